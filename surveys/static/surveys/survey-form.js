// Show a conditional survey question only when the earlier answer it depends on matches.
// Without JavaScript every question stays visible with a hint saying when to answer it;
// the server discards answers to questions that end up hidden.
(function () {
  "use strict";
  var form = document.querySelector(".survey-form");
  if (!form) { return; }
  var dependants = form.querySelectorAll("[data-show-if]");
  function update() {
    dependants.forEach(function (block) {
      var name = block.getAttribute("data-show-if");
      var values = block.getAttribute("data-show-values").split(",");
      var checked = form.querySelector('input[name="' + name + '"]:checked');
      var shown = checked !== null && values.indexOf(checked.value) !== -1;
      var parentBlock = checked ? checked.closest(".survey-question") : null;
      if (parentBlock && parentBlock.hidden) { shown = false; }
      block.hidden = !shown;
    });
  }
  form.addEventListener("change", update);
  update();
})();
