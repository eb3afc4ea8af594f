// qless-router dashboard: auto-refresh and the action forms (POST to the
// JSON API, then reload). No framework, nothing loaded from elsewhere.
(function () {
  "use strict";
  var box = document.getElementById("autorefresh");
  if (box) {
    var timer = null;
    var arm = function () {
      clearTimeout(timer);
      if (box.checked) {
        timer = setTimeout(function () { location.reload(); }, (+box.dataset.seconds || 5) * 1000);
      }
    };
    box.checked = localStorage.getItem("qless-autorefresh") === "1";
    box.addEventListener("change", function () {
      localStorage.setItem("qless-autorefresh", box.checked ? "1" : "0");
      arm();
    });
    arm();
  }

  var flash = document.getElementById("flash");
  var show = function (msg) {
    flash.textContent = msg;
    flash.hidden = false;
  };

  var find = document.getElementById("find-job");
  if (find) {
    find.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var jid = find.elements.jid.value.trim();
      if (jid) { location.href = "/jobs/" + encodeURIComponent(jid); }
    });
  }

  document.querySelectorAll("form[data-api]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (form.dataset.confirm && !confirm(form.dataset.confirm)) { return; }
      fetch(form.getAttribute("action"), {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin"
      }).then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok) { throw new Error(body.error || resp.statusText); }
          if (form.dataset.next) { location.href = form.dataset.next; } else { location.reload(); }
        });
      }).catch(function (err) { show(String(err.message || err)); });
    });
  });
})();
