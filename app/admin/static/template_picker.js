// The thread's template picker: one input per parameter of the chosen template, and a
// preview of the text the customer will read, updated as the parameters are typed.
(function () {
  "use strict";
  const form = document.getElementById("template-form");
  const data = document.getElementById("template-data");
  if (!form || !data) {
    return;
  }
  const templates = new Map(JSON.parse(data.textContent).map((t) => [t.key, t]));
  const select = document.getElementById("template-select");
  const fields = document.getElementById("template-parameters");
  const preview = document.getElementById("template-preview");
  const placeholder = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

  function fill(text, component, values) {
    return text.replace(placeholder, (whole, name) => {
      const value = values.get(component + " " + name);
      return value ? value : whole;
    });
  }

  function showPreview() {
    const template = templates.get(select.value);
    if (!template) {
      preview.hidden = true;
      return;
    }
    const values = new Map();
    fields.querySelectorAll("input").forEach((input) => {
      values.set(input.dataset.component + " " + input.dataset.name, input.value);
    });
    const parts = [
      fill(template.header, "header", values),
      fill(template.body, "body", values),
      template.footer,
    ].filter((part) => part);
    preview.textContent = parts.join("\n\n");
    preview.hidden = false;
  }

  function showFields() {
    fields.replaceChildren();
    const template = templates.get(select.value);
    (template ? template.parameters : []).forEach((parameter, index) => {
      const column = document.createElement("div");
      column.className = "col-md-4";
      const label = document.createElement("label");
      label.className = "form-label";
      label.htmlFor = "template-param-" + index;
      label.textContent = parameter.label;
      const input = document.createElement("input");
      input.className = "form-control";
      input.id = "template-param-" + index;
      input.name = "param";
      input.required = true;
      input.type = parameter.kind === "text" || parameter.kind === "coupon_code" ? "text" : "url";
      input.placeholder = input.type === "url" ? "https://… link to the " + parameter.kind : "";
      input.dataset.component = parameter.component;
      input.dataset.name = parameter.name;
      input.addEventListener("input", showPreview);
      column.append(label, input);
      fields.append(column);
    });
    showPreview();
  }

  select.addEventListener("change", showFields);
  showFields();
})();
