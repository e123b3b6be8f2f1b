// Ways to hand the page an image file: the file picker, drag-and-drop anywhere, and paste.

/** Call onFile(file) for a picked, dropped or pasted file; highlight dropZone while dragging. */
export function wireFileInputs(fileInput, dropZone, onFile) {
  fileInput.addEventListener("change", () => {
    if (fileInput.files[0]) onFile(fileInput.files[0]);
    fileInput.value = ""; // picking the same file again still fires "change"
  });
  // Drops work anywhere on the page; without preventDefault the browser would open the file itself.
  let depth = 0; // dragenter/dragleave fire for every child element crossed
  document.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    dropZone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) dropZone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    dropZone.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) onFile(file);
  });
  document.addEventListener("paste", (event) => {
    const file = event.clipboardData && event.clipboardData.files[0];
    if (file) onFile(file);
  });
}
