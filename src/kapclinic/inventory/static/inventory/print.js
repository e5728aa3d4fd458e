// The ledger's Print buttons (no inline handlers: the Content Security Policy refuses them).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-print]");
  if (button) window.print();
});
