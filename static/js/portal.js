/* Portal behaviour that needs JavaScript; the portal works without it.
   - body.no-js is removed, so the phone menu collapses behind its button (CSS keeps it open
     when scripts do not run), and its button opens and closes it (data-bs-toggle="collapse":
     the one Bootstrap behaviour the portal uses, without Bootstrap's script).
   - After a failed submission the first form error summary takes the focus, and its links
     move the focus to the field they name. */
document.body.classList.remove("no-js");

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-bs-toggle='collapse']").forEach(function (button) {
    var target = document.querySelector(button.getAttribute("data-bs-target"));
    if (!target) {
      return;
    }
    button.addEventListener("click", function () {
      var open = target.classList.toggle("show");
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.classList.toggle("collapsed", !open);
    });
  });
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
