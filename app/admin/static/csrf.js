// Every state change of the admin is a POST carrying the session's CSRF token: forms get
// the token as a hidden field, and the links sqladmin draws for actions and for logging
// out are sent as POST forms instead of being followed.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!meta) {
    return;
  }
  var token = meta.getAttribute("content");

  function addToken(form) {
    if (form.method.toLowerCase() !== "post" || form.querySelector('input[name="csrf_token"]')) {
      return;
    }
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "csrf_token";
    input.value = token;
    form.appendChild(input);
  }

  function post(url) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = url;
    form.style.display = "none";
    addToken(form);
    document.body.appendChild(form);
    form.submit();
  }

  // The rows ticked in a list, as sqladmin reads them: the value beside each checkbox.
  function selectedRows() {
    var ids = [];
    document.querySelectorAll(".select-box:checked").forEach(function (box) {
      var sibling = Array.prototype.find.call(box.parentElement.children, function (el) {
        return el !== box;
      });
      if (sibling) {
        ids.push(sibling.value);
      }
    });
    return ids;
  }

  function targetOf(link) {
    var dataUrl = link.getAttribute("data-url");
    if (link.id.indexOf("action-custom-") === 0 && dataUrl) {
      return dataUrl.indexOf("?") === -1 ? dataUrl + "?pks=" + selectedRows().join(",") : dataUrl;
    }
    var href = link.getAttribute("href");
    if (!href || href.charAt(0) === "#") {
      return null;
    }
    var path = new URL(href, window.location.href).pathname;
    if (path.indexOf("/action/") !== -1 || /\/logout$/.test(path)) {
      return href;
    }
    return null;
  }

  // Capturing, so that this runs before sqladmin's own handlers, which would follow the
  // link with a GET.
  document.addEventListener(
    "click",
    function (event) {
      var link = event.target.closest ? event.target.closest("a") : null;
      var url = link ? targetOf(link) : null;
      if (url === null) {
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      post(url);
    },
    true
  );
  document.addEventListener(
    "submit",
    function (event) {
      addToken(event.target);
    },
    true
  );
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(addToken);
  });
})();
