// Shows a connection's status events in a badge.
export function showStatus(element, detail) {
  const { status, delayMs } = detail;
  element.className = `status ${status}`;
  element.dataset.status = status;
  if (status === "reconnecting" && typeof delayMs === "number" && delayMs > 0) {
    element.textContent = `reconnecting in ${(delayMs / 1000).toFixed(1)} s`;
  } else {
    element.textContent = { open: "online", closed: "offline" }[status] ?? status;
  }
}

export function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
