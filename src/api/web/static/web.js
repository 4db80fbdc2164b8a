/* Truchement: a little plain JavaScript. Every page works without it; this only helps. */
"use strict";

(function () {
  function onReady(fn) {
    if (document.readyState !== "loading") {
      fn();
    } else {
      document.addEventListener("DOMContentLoaded", fn);
    }
  }

  /* A select that shows a group of fields for one of its values (site -> typed address). */
  function setUpToggles() {
    document.querySelectorAll("select[data-toggles]").forEach(function (select) {
      var target = document.getElementById(select.dataset.toggles);
      if (!target) {
        return;
      }
      var update = function () {
        target.hidden = select.value !== select.dataset.toggleValue;
      };
      select.addEventListener("change", update);
      update();
    });
  }

  /* Place fields only matter on site: hide them for phone and video sessions. */
  function setUpModality() {
    var radios = document.querySelectorAll("input[name='modality']");
    if (!radios.length) {
      return;
    }
    var update = function () {
      var checked = document.querySelector("input[name='modality']:checked");
      var onsite = !checked || checked.value === "onsite";
      document.querySelectorAll("[data-onsite]").forEach(function (el) {
        if (!onsite) {
          el.hidden = true;
        } else if (el.id && document.querySelector("select[data-toggles='" + el.id + "']")) {
          var select = document.querySelector("select[data-toggles='" + el.id + "']");
          el.hidden = select.value !== select.dataset.toggleValue;
        } else {
          el.hidden = false;
        }
      });
    };
    radios.forEach(function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  }

  /* After a refused submit, move focus to the list of errors so it is read first. */
  function focusErrors() {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  }

  /* Long requests (a plan solving for up to a minute): show that work is going on. */
  function setUpProgress() {
    document.querySelectorAll("form[data-progress]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var box = document.getElementById(form.dataset.progress);
        if (!box) {
          return;
        }
        box.hidden = false;
        var counter = box.querySelector("[data-elapsed]");
        var started = Date.now();
        if (counter) {
          window.setInterval(function () {
            counter.textContent = String(Math.round((Date.now() - started) / 1000));
          }, 1000);
        }
        form.querySelectorAll("button[type='submit']").forEach(function (button) {
          window.setTimeout(function () {
            button.disabled = true;
          }, 0);
        });
      });
    });
  }

  /* Ask before an action that cannot be undone. */
  function setUpConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) {
          event.preventDefault();
          event.stopImmediatePropagation();
        }
      });
    });
  }

  /* "Select all" for the proposals of a plan. */
  function setUpSelectAll() {
    document.querySelectorAll("input[data-select-all]").forEach(function (master) {
      var boxes = document.querySelectorAll("input[name='" + master.dataset.selectAll + "']");
      master.addEventListener("change", function () {
        boxes.forEach(function (box) {
          if (!box.disabled) {
            box.checked = master.checked;
          }
        });
      });
    });
  }

  /* Older offer links (?answer=accept#offer-ID) name the offer only in the fragment, which
     the server never sees: focus the button here. Newer ones say ?offer=ID and need no script. */
  function focusAnswer() {
    var answer = new URLSearchParams(window.location.search).get("answer");
    var match = /^#offer-(\d+)$/.exec(window.location.hash);
    var known = answer === "accept" || answer === "decline";
    if (!known || !match || document.querySelector("[autofocus]")) {
      return;
    }
    var card = document.getElementById("offer-" + match[1]);
    var button = card && card.querySelector("button[data-answer='" + answer + "']");
    if (button) {
      button.focus();
    }
  }

  onReady(function () {
    setUpToggles();
    setUpModality();
    setUpConfirm();
    setUpProgress();
    setUpSelectAll();
    focusErrors();
    focusAnswer();
  });
})();
