// natlis pages: keep the scan box focused, clear it as each scan leaves, and make a refusal
// impossible to miss (a tone and a flash). No build step; htmx does the requests.
(function () {
  "use strict";
  function box() { return document.getElementById("scan-code"); }
  function focusWork() {
    var wanted = document.querySelector("#panel [data-focus]") || box();
    if (wanted && document.activeElement !== wanted) { wanted.focus(); }
  }
  var audio = null;
  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var o = audio.createOscillator(), g = audio.createGain();
      o.type = "square";
      o.frequency.setValueAtTime(880, audio.currentTime);
      o.frequency.setValueAtTime(440, audio.currentTime + 0.15);
      g.gain.setValueAtTime(0.2, audio.currentTime);
      o.connect(g); g.connect(audio.destination);
      o.start(); o.stop(audio.currentTime + 0.35);
    } catch (e) { /* no sound on this device: the colour still shows */ }
  }
  function flash() {
    document.body.classList.remove("flash");
    void document.body.offsetWidth;
    document.body.classList.add("flash");
  }
  document.addEventListener("DOMContentLoaded", focusWork);
  document.addEventListener("htmx:afterSettle", focusWork);
  // A click on nothing in particular puts the focus back where the scanner types.
  document.addEventListener("click", function (e) {
    if (!e.target.closest("input, select, button, a, textarea, label")) { focusWork(); }
  });
  // A choice made beside the box sends the focus back to it.
  document.addEventListener("change", function (e) {
    if (e.target.closest("#setup")) { focusWork(); }
  });
  // The code has been read into the request: clear the box for the next scan at once.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.elt && e.detail.elt.id === "scan-form" && box()) { box().value = ""; }
  });
  document.addEventListener("refused", function () { tone(); flash(); });
  // New files chosen: the import waits for their preview again.
  document.addEventListener("change", function (e) {
    if (e.target.id === "import-files") {
      var c = document.getElementById("import-commit"); if (c) { c.disabled = true; }
      var r = document.getElementById("import-result"); if (r) { r.innerHTML = ""; }
    }
  });
  function lost() {
    var m = document.getElementById("message");
    if (m) {
      m.className = "message refused";
      m.textContent = document.body.getAttribute("data-network-error") || "Network error";
    }
    tone(); flash(); focusWork();
  }
  document.addEventListener("htmx:sendError", lost);
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr && e.detail.xhr.status >= 500) { lost(); }
  });
})();
