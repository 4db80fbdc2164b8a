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

  /* A progress bar from the "progress" macro of _macros.html. The bar and its text follow
     every update; the announcer (a polite live region) speaks only at the start, when a
     milestone is passed and at the end, so that a screen reader does not read out a number
     every second. Texts are the macro's templates, with {done} and {total}. */
  function progress(box) {
    var shown = box.querySelector("[data-progress-shown]");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var announcer = box.querySelector("[data-progress-announce]");
    var milestones = (box.dataset.milestones || "").split(/\s+/).filter(Boolean).map(Number);
    var passed = 0;
    var finished = false;
    var fill = function (template, done, total) {
      return (template || "")
        .replace(/\{done\}/g, String(done))
        .replace(/\{total\}/g, String(total));
    };
    var show = function (done, total) {
      if (bar && total > 0) {
        bar.max = total;
        bar.value = Math.min(done, total);
      }
      if (text) {
        text.textContent = fill(box.dataset.text, done, total);
      }
    };
    var announce = function (message) {
      if (announcer && message) {
        announcer.textContent = message;
      }
    };
    return {
      start: function (total) {
        passed = 0;
        finished = false;
        if (shown) {
          shown.hidden = false;
        }
        show(0, total);
        announce(fill(box.dataset.started, 0, total));
      },
      update: function (done, total) {
        if (finished) {
          return;
        }
        show(done, total);
        var reached = passed;
        while (reached < milestones.length && total > 0 && done * 100 >= milestones[reached] * total) {
          reached += 1;
        }
        if (reached > passed) {
          passed = reached;
          announce(fill(box.dataset.step, done, total));
        }
      },
      finish: function (message, done, total) {
        if (finished) {
          return;
        }
        finished = true;
        if (done !== undefined) {
          show(done, total);
        }
        announce(message || fill(box.dataset.finished, done, total));
      },
    };
  }

  /* A long request (a plan solving for up to its time limit): on submit, the form's progress
     box counts the seconds toward the limit. The submit button is not disabled, which would
     drop its focus to the page: it stays focused, says it is unavailable (aria-disabled),
     is described by the progress text, and a second submit is ignored. */
  function setUpProgress() {
    document.querySelectorAll("form[data-progress]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var box = document.getElementById(form.dataset.progress);
        if (event.defaultPrevented || !box) {
          return;
        }
        if (form.dataset.busy) {
          event.preventDefault();
          return;
        }
        form.dataset.busy = "true";
        var field = form.querySelector("[data-progress-total]");
        var total = Number(box.dataset.total) || 60;
        var asked = field ? parseInt(field.value, 10) : NaN;
        if (asked >= 1) {
          total = Math.min(asked, total);
        }
        var shown = progress(box);
        shown.start(total);
        var started = Date.now();
        var timer = window.setInterval(function () {
          var done = Math.min(total, Math.floor((Date.now() - started) / 1000));
          if (done >= total) {
            window.clearInterval(timer);
            shown.finish(null, done, total);
          } else {
            shown.update(done, total);
          }
        }, 1000);
        var text = box.querySelector("[data-progress-text]");
        form.querySelectorAll("button[type='submit']").forEach(function (button) {
          button.setAttribute("aria-disabled", "true");
          if (text && text.id) {
            button.setAttribute("aria-describedby", text.id);
          }
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

  /* "Select all" for the proposals of a plan (shown by this script: it needs it). */
  function setUpSelectAll() {
    document.querySelectorAll("input[data-select-all]").forEach(function (master) {
      var wrapper = master.closest("[data-needs-script]");
      if (wrapper) {
        wrapper.hidden = false;
      }
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

  /* A plan being solved: read its page again every few seconds and update the progress in
     place (nothing reloads, the focus stays where it is, nothing is announced on the way);
     once the plan has ended, open the finished page. Without the script, a link reloads. */
  function followPlan() {
    var box = document.querySelector("#plan-progress[data-follow]");
    if (!box || !window.fetch || !window.DOMParser) {
      return;
    }
    var seconds = Number(box.getAttribute("data-follow")) || 5;
    var timer = window.setInterval(function () {
      window
        .fetch(window.location.href, { credentials: "same-origin" })
        .then(function (answer) {
          return answer.ok ? answer.text() : null;
        })
        .then(function (html) {
          if (html === null) {
            return;
          }
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.querySelector("#plan-progress [data-follow-part]");
          if (!fresh) {
            window.clearInterval(timer);
            window.location.reload();
            return;
          }
          box.querySelector("[data-follow-part]").replaceWith(document.importNode(fresh, true));
          var stop = box.querySelector("#stop-form");
          if (stop && !page.getElementById("stop-form")) {
            stop.remove();
          }
        })
        .catch(function () {
          /* the next tick tries again */
        });
    }, seconds * 1000);
  }

  /* For other scripts of the pages (a progress bar fed by the server, for one). */
  window.Truchement = {
    progress: function (box) {
      return progress(typeof box === "string" ? document.getElementById(box) : box);
    },
  };

  onReady(function () {
    setUpToggles();
    setUpModality();
    setUpConfirm();
    setUpProgress();
    setUpSelectAll();
    focusErrors();
    focusAnswer();
    followPlan();
  });
})();
