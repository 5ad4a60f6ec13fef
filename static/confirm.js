// Confirmations that open under their button (« Désactiver… »,
// « Révoquer… »): Escape closes the open one and puts the focus back on
// its button, as it closes a dialog.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !(event.target instanceof Element)) {
      return;
    }
    var open = event.target.closest("details.confirm[open]");
    if (!open) {
      return;
    }
    event.preventDefault();
    open.open = false;
    open.querySelector("summary").focus();
  });
})();
