// Forms that must be sent once, such as the API token form: the submit
// button is disabled as soon as the form is sent, so that a double click
// sends it once. The server refuses a second sending all the same.
(function () {
  "use strict";

  function buttons(form) {
    return form.querySelectorAll('button[type="submit"]');
  }

  var forms = document.querySelectorAll("form[data-send-once]");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", function (event) {
      var sent = buttons(event.target);
      window.setTimeout(function () {
        for (var j = 0; j < sent.length; j++) {
          sent[j].disabled = true;
        }
      }, 0);
    });
  }
  // Back to the page from the browser history shows it as it was left.
  window.addEventListener("pageshow", function () {
    for (var i = 0; i < forms.length; i++) {
      var submits = buttons(forms[i]);
      for (var j = 0; j < submits.length; j++) {
        submits[j].disabled = false;
      }
    }
  });
})();
