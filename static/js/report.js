// Staff reports: the "Print" button (the page prints the same with the browser's own command).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
