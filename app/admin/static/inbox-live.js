/* The inbox, live: the conversation list and an open thread follow new events (Server-Sent
   Events from the admin's /live route) without a reload. The server renders; this file
   only fetches the fresh HTML and swaps it in. */
(function () {
  "use strict";
  var root = document.getElementById("inbox-live");
  var thread = document.getElementById("thread");

  function atBottom(element) {
    return element.scrollHeight - element.scrollTop - element.clientHeight < 40;
  }

  function toBottom(element) {
    element.scrollTop = element.scrollHeight;
  }

  if (root && root.dataset.liveKind === "thread" && thread) {
    // The newest message is where an agent starts reading and answering.
    var showReplyBox = function () {
      toBottom(thread);
      var form = document.getElementById("reply-form");
      if (form) {
        form.scrollIntoView({ block: "nearest" });
      }
    };
    showReplyBox();
    // Pictures load later and make the thread taller.
    window.addEventListener("load", showReplyBox);
  }
  if (!root || !root.dataset.liveUrl || !window.EventSource) {
    return;
  }

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.text();
    });
  }

  function refreshList() {
    return fetchText(window.location.href).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var fresh = page.querySelector("table.card-table tbody");
      var current = document.querySelector("table.card-table tbody");
      if (fresh && current) {
        current.replaceWith(fresh);
      }
    });
  }

  function refreshThread() {
    var stick = atBottom(thread);
    return fetchText(root.dataset.itemsUrl).then(function (html) {
      thread.innerHTML = html;
      var items = document.getElementById("thread-items");
      if (items) {
        document.getElementById("thread-message-count").textContent = items.dataset.messageCount;
        document.getElementById("thread-unread-count").textContent = items.dataset.unreadCount;
      }
      if (stick) {
        toBottom(thread);
      }
    });
  }

  var refresh = root.dataset.liveKind === "thread" ? refreshThread : refreshList;
  var running = false;
  var again = false;

  // Events come in bursts (a message, then its statuses): one refresh at a time, and one
  // more after it when anything arrived meanwhile.
  function schedule() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    refresh().catch(function () { /* the next event or reconnection tries again */ })
      .then(function () {
        running = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  var source = new EventSource(root.dataset.liveUrl);
  ["message.received", "message.sent", "message.status", "conversation.read", "media.stored"]
    .forEach(function (type) { source.addEventListener(type, schedule); });
  root.dataset.liveState = "connecting";
  source.addEventListener("open", function () { root.dataset.liveState = "open"; });
})();
