// faxcast web customer space: a few lines of plain JavaScript, no build step.
// Everything works without it; it adds the live table, the menus' keyboard niceties,
// showing only the fields that apply, and the PDF preview.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var LIVE_MS = 2000;
  var IDLE_MS = 10000;

  // Live regions: [data-refresh-url] is fetched again and swapped while it says it is live.
  function refresher(box) {
    var last = box.innerHTML;
    function schedule() {
      var root = box.firstElementChild;
      var live = root && root.getAttribute("data-live") === "true";
      window.setTimeout(tick, live ? LIVE_MS : IDLE_MS);
    }
    function tick() {
      // Never pull the rug from under an open menu or a hidden tab.
      if (document.hidden || box.querySelector("details[open]")) { schedule(); return; }
      fetch(box.getAttribute("data-refresh-url"), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (response) {
          // Signed out meanwhile (the session ended): reloading leads to the sign-in page.
          if (response.status === 401) { window.location.reload(); }
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          if (html.trim() !== last.trim()) {
            var focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : "";
            box.innerHTML = html;
            last = box.innerHTML;
            enhanceMenus(box);
            if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
          }
          schedule();
        })
        .catch(function () { window.setTimeout(tick, IDLE_MS); });
    }
    schedule();
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-refresh-url]"), refresher);

  // "..." menus: without script, a disclosure of plain links and buttons; with it, a menu
  // button (WAI-ARIA menu pattern): arrow keys, Home and End move between the items, Escape or
  // Tab closes and gives the focus back to the button, one menu open at a time.
  function enhanceMenus(root) {
    Array.prototype.forEach.call(root.querySelectorAll("details.menu"), function (menu) {
      var button = menu.querySelector("summary");
      var list = menu.querySelector(".menu-items");
      button.setAttribute("aria-haspopup", "menu");
      button.setAttribute("aria-expanded", menu.open ? "true" : "false");
      list.setAttribute("role", "menu");
      list.setAttribute("aria-labelledby", button.id);
      Array.prototype.forEach.call(list.querySelectorAll("form"), function (wrapper) {
        wrapper.setAttribute("role", "none");
      });
      Array.prototype.forEach.call(list.querySelectorAll(".menu-item"), function (item) {
        item.setAttribute("role", "menuitem");
        item.setAttribute("tabindex", "-1");
      });
    });
  }
  function menuItems(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll(".menu-item"));
  }
  function closeMenu(menu) {
    menu.open = false;
    menu.querySelector("summary").setAttribute("aria-expanded", "false");
    menu.querySelector("summary").focus();
  }
  enhanceMenus(document);
  document.addEventListener("toggle", function (event) {
    var toggled = event.target;
    if (!toggled.matches || !toggled.matches("details.menu")) { return; }
    toggled.querySelector("summary").setAttribute("aria-expanded", toggled.open ? "true" : "false");
    if (!toggled.open) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("details.menu[open]"), function (other) {
      if (other !== toggled) { other.open = false; }
    });
    // Opened by ArrowUp, the focus is already on the last item.
    var items = menuItems(toggled);
    if (items.length && items.indexOf(document.activeElement) < 0) { items[0].focus(); }
  }, true);
  document.addEventListener("keydown", function (event) {
    var open = document.querySelector("details.menu[open]");
    if (event.key === "Escape" && open) { closeMenu(open); return; }
    var menu = event.target.closest && event.target.closest("details.menu");
    if (!menu) { return; }
    var items = menuItems(menu);
    var at = items.indexOf(event.target);
    var next = null;
    if (event.target.matches("summary")) {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") { return; }
      menu.open = true;
      next = event.key === "ArrowDown" ? items[0] : items[items.length - 1];
    } else if (at >= 0) {
      if (event.key === "Tab") { closeMenu(menu); return; }  // the Tab goes on from the button
      if (event.key === "ArrowDown") { next = items[(at + 1) % items.length]; }
      if (event.key === "ArrowUp") { next = items[(at - 1 + items.length) % items.length]; }
      if (event.key === "Home") { next = items[0]; }
      if (event.key === "End") { next = items[items.length - 1]; }
    }
    if (next) { event.preventDefault(); next.focus(); }
  });
  document.addEventListener("click", function (event) {
    Array.prototype.forEach.call(document.querySelectorAll("details.menu[open]"), function (menu) {
      if (!menu.contains(event.target)) { menu.open = false; }
    });
  });

  // The state filter applies as soon as it changes.
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // The new-campaign form: show the date only for scheduled ones, the list or the file.
  function applyChoices(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-show-when]"), function (group) {
      var checked = form.querySelector('input[name="' + group.getAttribute("data-show-when") + '"]:checked');
      group.hidden = !checked || checked.value !== group.getAttribute("data-show-value");
    });
  }
  var form = document.querySelector("form.campaign-form");
  if (form) {
    applyChoices(form);
    form.addEventListener("change", function () { applyChoices(form); });
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  // The preview: the chosen PDF at the chosen quality, rendered by the server.
  var pdf = document.querySelector("input[data-preview]");
  var preview = document.getElementById("preview");
  var pending = null;
  function showPreview() {
    if (!pdf || !preview || !pdf.files || pdf.files.length === 0) { return; }
    var data = new FormData();
    data.append("pdf", pdf.files[0]);
    var quality = form.querySelector('input[name="quality"]:checked');
    data.append("quality", quality ? quality.value : "normal");
    if (pending) { pending.abort(); }
    pending = new AbortController();
    preview.setAttribute("aria-busy", "true");
    preview.textContent = preview.getAttribute("data-loading");
    fetch(pdf.getAttribute("data-preview"), {
      method: "POST", body: data, signal: pending.signal, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf ? csrf.content : "" }
    })
      .then(function (response) { return response.text(); })
      .then(function (html) { preview.innerHTML = html; preview.removeAttribute("aria-busy"); })
      .catch(function () { preview.removeAttribute("aria-busy"); });
  }
  if (pdf && form) {
    pdf.addEventListener("change", showPreview);
    Array.prototype.forEach.call(form.querySelectorAll('input[name="quality"]'), function (radio) {
      radio.addEventListener("change", showPreview);
    });
  }
  if (preview) {
    preview.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest(".page-zoom");
      if (!button) { return; }
      var zoomed = button.getAttribute("aria-pressed") === "true";
      button.setAttribute("aria-pressed", zoomed ? "false" : "true");
    });
  }

  // A secret shown once (a token, a set-up link): a button copies it; without script, the text
  // is selected by hand.
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value).then(function () {
        button.textContent = button.getAttribute("data-copied");
        window.setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.secret"), function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
})();
