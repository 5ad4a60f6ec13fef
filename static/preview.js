// Live preview of the reassignment dialogs. When a field changes, the form
// (without its CSRF token and idempotency key) is sent to the URL in
// data-preview-url. The JSON response contains the preview's HTML, rendered
// and escaped by the server, and the French error of each invalid field.
(function () {
  "use strict";

  var DELAY_MS = 300;
  var PRIVATE_FIELDS = ["csrf_token", "idempotency_key"];

  function setFieldErrors(form, errors) {
    var slots = form.querySelectorAll("[data-error-for]");
    for (var i = 0; i < slots.length; i++) {
      var slot = slots[i];
      var name = slot.getAttribute("data-error-for");
      var message = errors[name] || "";
      if (slot.textContent !== message) {
        slot.textContent = message;
      }
      var inputs = form.querySelectorAll('[name="' + name + '"]');
      for (var j = 0; j < inputs.length; j++) {
        if (message) {
          inputs[j].setAttribute("aria-invalid", "true");
        } else {
          inputs[j].removeAttribute("aria-invalid");
        }
      }
      var field = slot.closest(".field");
      if (field) {
        field.classList.toggle("field-invalid", Boolean(message));
      }
    }
  }

  function fieldValue(form, name) {
    return new FormData(form).getAll(name).join("\n");
  }

  // Errors the server rendered with the page, after « Valider », with the
  // value of their field then. The preview cannot see them all (an empty
  // field has no preview error, a disabled option is not sent), so each
  // stays until its field changes.
  function renderedErrors(form) {
    var errors = {};
    var slots = form.querySelectorAll("[data-error-for]");
    for (var i = 0; i < slots.length; i++) {
      var name = slots[i].getAttribute("data-error-for");
      var message = slots[i].textContent.trim();
      if (message) {
        errors[name] = { message: message, value: fieldValue(form, name) };
      }
    }
    return errors;
  }

  function attach(form) {
    var url = form.getAttribute("data-preview-url");
    var target = form.querySelector("[data-preview]");
    if (!url || !target) {
      return;
    }
    var timer = null;
    var sequence = 0;
    var lastQuery = null;
    var rendered = renderedErrors(form);

    function withRendered(errors) {
      Object.keys(rendered).forEach(function (name) {
        if (fieldValue(form, name) !== rendered[name].value) {
          delete rendered[name];
        } else if (!errors[name]) {
          errors[name] = rendered[name].message;
        }
      });
      return errors;
    }

    // After a refused « Valider », the first field in error takes the
    // focus, so that keyboard and screen reader users land on the fault.
    var firstInvalid = form.querySelector('[aria-invalid="true"]');
    if (firstInvalid) {
      firstInvalid.focus();
    }

    function refresh() {
      var params = new URLSearchParams(new FormData(form));
      PRIVATE_FIELDS.forEach(function (name) { params.delete(name); });
      var query = params.toString();
      // Leaving a field fires "change" without changing anything.
      if (query === lastQuery) {
        return;
      }
      lastQuery = query;
      var current = ++sequence;
      target.setAttribute("aria-busy", "true");
      fetch(url + "?" + query, {
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) {
          // An ended session sends the request to the login page.
          var toLogin = response.redirected && new URL(response.url).pathname === "/login";
          if (toLogin || response.status === 401) {
            throw new Error("session ended");
          }
          if (response.status === 414) {
            throw new Error("too long");
          }
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (answer) {
          if (current !== sequence) {
            return;
          }
          target.innerHTML = answer.html;
          setFieldErrors(form, withRendered(answer.errors || {}));
        })
        .catch(function (error) {
          if (current !== sequence) {
            return;
          }
          lastQuery = null;
          var notices = {
            "session ended": "Votre session a pris fin\u00a0: l'aperçu n'est plus disponible. En validant, vous passerez par la page de connexion, puis reviendrez à ce formulaire rempli\u202f; rien n'est modifié entre-temps.",
            // A list over the limit of a request's address is also over
            // that of the form: « Valider » would be refused too.
            "too long": "Liste trop longue pour cet écran\u00a0: ni l'aperçu ni «\u00a0Valider\u00a0» ne peuvent l'envoyer. Raccourcissez-la, par exemple en donnant les départements (51) plutôt que chaque code, ou passez par l'API, qui accepte des listes bien plus longues."
          };
          target.textContent = notices[error.message] ||
            "Aperçu indisponible pour le moment\u202f; vous pouvez tout de même valider, le résultat affichera les nombres réels.";
        })
        .then(function () {
          if (current === sequence) {
            target.setAttribute("aria-busy", "false");
          }
        });
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, DELAY_MS);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    // Enter in a field shows the preview at once instead of running the
    // operation, which only « Valider » does: a mass move must never start
    // before its preview could be read.
    form.addEventListener("keydown", function (event) {
      var field = event.target;
      if (event.key !== "Enter" || field.tagName !== "INPUT" ||
          field.type === "submit" || field.type === "button") {
        return;
      }
      event.preventDefault();
      window.clearTimeout(timer);
      lastQuery = null;
      refresh();
    });
    // A second click while the run is under way would get the same result,
    // because the form keeps its idempotency key. Disabling the button
    // spares that wait.
    form.addEventListener("submit", function () {
      var buttons = form.querySelectorAll('button[type="submit"]');
      window.setTimeout(function () {
        for (var i = 0; i < buttons.length; i++) {
          buttons[i].disabled = true;
        }
      }, 0);
    });
    // Coming back to the page from the browser history shows it as it was
    // left, button disabled included, and the browser may refill the
    // fields of a page it loads again: the preview is asked for what the
    // fields contain now.
    window.addEventListener("pageshow", function () {
      var buttons = form.querySelectorAll('button[type="submit"]');
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = false;
      }
      lastQuery = null;
      schedule();
    });
  }

  var forms = document.querySelectorAll("form[data-preview-url]");
  for (var i = 0; i < forms.length; i++) {
    attach(forms[i]);
  }
})();
