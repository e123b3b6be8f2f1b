// Drawing a prediction: one button per face over the image, and the probability bars.

/** "91%" for 0.91; "<1%" for tiny non-zero values so a bar's text never lies. */
export function percent(value) {
  const pct = value * 100;
  if (pct > 0 && pct < 1) return "<1%";
  return `${pct.toFixed(pct >= 10 ? 0 : 1)}%`;
}

/** A human sentence for a face, used as the box's accessible name. */
function describe(face, index) {
  return `Face ${index + 1}: ${face.label}, ${percent(face.confidence)} confidence`;
}

/**
 * Place one focusable button per face over the image. Positions are percentages of the
 * image size the server saw, so the boxes follow the displayed image at any size.
 */
export function renderFaces(overlay, result, selected, onSelect) {
  overlay.replaceChildren();
  const { width, height } = result.image;
  result.faces.forEach((face, index) => {
    const { x, y, width: w, height: h } = face.box;
    const box = document.createElement("button");
    box.type = "button";
    box.className = "face-box";
    box.dataset.index = String(index);
    box.style.left = `${(100 * x) / width}%`;
    box.style.top = `${(100 * y) / height}%`;
    box.style.width = `${(100 * w) / width}%`;
    box.style.height = `${(100 * h) / height}%`;
    box.setAttribute("aria-pressed", String(index === selected));
    box.setAttribute("aria-label", describe(face, index));
    if (y / height < 0.08) box.classList.add("label-inside");
    const tag = document.createElement("span");
    tag.className = "face-label";
    tag.setAttribute("aria-hidden", "true");
    tag.textContent = `${face.label} ${percent(face.confidence)}`;
    box.append(tag);
    box.addEventListener("click", () => onSelect(index));
    box.addEventListener("keydown", (event) => moveSelection(event, index, result.faces.length, onSelect));
    overlay.append(box);
  });
}

/** Arrow keys, Home and End move between faces (Tab and Enter work as on any button). */
function moveSelection(event, index, count, onSelect) {
  const next = {
    ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1,
    Home: 0, End: count - 1,
  }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  const target = (next + count) % count;
  onSelect(target);
  const button = event.currentTarget.parentElement.querySelector(`[data-index="${target}"]`);
  if (button) button.focus();
}

/** Mark the selected face's box without rebuilding the overlay (keeps keyboard focus). */
export function markSelected(overlay, selected) {
  for (const box of overlay.querySelectorAll(".face-box")) {
    box.setAttribute("aria-pressed", String(Number(box.dataset.index) === selected));
  }
}

/** One row per class, in the model's class order; the top class is highlighted. */
export function renderBars(list, face, classNames) {
  const names = classNames && classNames.length ? classNames : Object.keys(face.probabilities);
  list.replaceChildren();
  for (const name of names) {
    const value = face.probabilities[name] ?? 0;
    const row = document.createElement("li");
    row.dataset.class = name;
    row.classList.toggle("top", name === face.label);
    const label = document.createElement("span");
    label.className = "bar-name";
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "bar-track";
    track.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.display = "block";
    fill.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`;
    track.append(fill);
    const text = document.createElement("span");
    text.className = "bar-value";
    text.textContent = percent(value);
    row.append(label, track, text);
    list.append(row);
  }
}

/** "1 face found" / "3 faces found" for the status line and caption. */
export function facesSummary(result) {
  const count = result.faces.length;
  return `${count} face${count === 1 ? "" : "s"} found`;
}
