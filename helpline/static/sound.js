/* An optional, quiet chime on new work (an assignment, an offer, a new text). Off unless the
   supporter turns it on; the choice stays in this browser (localStorage), nowhere else.
   The tone is made with Web Audio: no sound file, nothing fetched. Loaded from 'self'. */
(function () {
  "use strict";

  var KEY = "helpline.sound";

  function isOn() {
    try { return window.localStorage.getItem(KEY) === "on"; } catch (e) { return false; }
  }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    var audio = new Context();
    var tone = audio.createOscillator();
    var volume = audio.createGain();
    tone.type = "sine";
    tone.frequency.value = 660;
    volume.gain.setValueAtTime(0.08, audio.currentTime);  // soft: a nudge, not an alarm
    volume.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.6);
    tone.connect(volume).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.6);
    tone.addEventListener("ended", function () { audio.close(); });
  }

  function show(toggle) {
    var on = isOn();
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = on ? "Sound on new work: on" : "Sound on new work: off";
  }

  document.addEventListener("helpline:new-work", function () {
    if (isOn()) chime();
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-sound-toggle]").forEach(function (toggle) {
      toggle.hidden = false;
      show(toggle);
      toggle.addEventListener("click", function () {
        try { window.localStorage.setItem(KEY, isOn() ? "off" : "on"); } catch (e) { return; }
        show(toggle);
      });
    });
  });
})();
