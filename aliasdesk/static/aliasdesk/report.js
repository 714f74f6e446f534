// aliasdesk: the printable report's Print button (no inline script: the CSP forbids it).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) { window.print(); }
});
