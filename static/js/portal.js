/* Portal behaviour that needs JavaScript; the portal works without it.
   - body.no-js is removed, so the phone menu collapses behind its button (CSS keeps it open
     when scripts do not run).
   - After a failed submission the first form error summary takes the focus, and its links
     move the focus to the field they name. */
document.body.classList.remove("no-js");

document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
  document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (target) {
        event.preventDefault();
        target.focus();
        target.scrollIntoView({ block: "center" });
      }
    });
  });
});
