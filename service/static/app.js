// The page: wires the inputs (file, drop, paste, webcam) to /predict and shows the result.

import { ApiError, fetchMetadata, loadApiKey, predict, saveApiKey } from "./api.js";
import { wireFileInputs } from "./files.js";
import { hideVideo, wireVideo } from "./video.js";
import { facesSummary, markSelected, percent, renderBars, renderFaces } from "./view.js";
import { WebcamControls } from "./webcam.js";

const $ = (id) => document.getElementById(id);
const ui = {
  modelInfo: $("model-info"), status: $("status"), error: $("error"), result: $("result"),
  fileInput: $("file-input"), dropZone: $("drop-zone"), detect: $("detect-mode"),
  keyForm: $("key-form"), apiKey: $("api-key"), options: document.querySelector("details.options"),
  cameraToggle: $("camera-toggle"), snapshot: $("snapshot"), liveToggle: $("live-toggle"),
  video: $("video"), cameraHint: $("camera-hint"),
  stage: $("stage"), preview: $("preview"), overlay: $("overlay"), caption: $("faces-caption"),
  chart: $("chart"), chartTitle: $("chart-title"), bars: $("bars"),
};
const state = {
  apiKey: loadApiKey(), classNames: null, result: null, selected: 0,
  lastInput: null, retry: null, controller: null, imageUrl: null,
};

/** The polite status line (announced by screen readers). */
function setStatus(text, { notice = false } = {}) {
  ui.status.textContent = text;
  ui.status.classList.toggle("notice", notice);
}

/** The error box (role=alert); a 401 opens Options and marks the key field invalid. */
function showError(error) {
  ui.error.textContent = error.message;
  ui.error.hidden = false;
  if (error.status === 401 || error.status === 403) {
    ui.options.open = true;
    ui.apiKey.setAttribute("aria-invalid", "true");
  }
}

/** Hide the error box. */
function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
  ui.apiKey.removeAttribute("aria-invalid");
}

/** Show the model's name, version and test accuracy from /metadata. */
async function loadMetadata() {
  try {
    const meta = await fetchMetadata(state.apiKey);
    state.classNames = meta.class_names || null;
    const accuracy = meta.metrics && typeof meta.metrics.accuracy === "number"
      ? `test accuracy ${(meta.metrics.accuracy * 100).toFixed(1)}%` : "test accuracy not recorded";
    ui.modelInfo.textContent = `Model ${meta.name} version ${meta.version} · ${accuracy}`;
  } catch (error) {
    ui.modelInfo.textContent = error.status === 401
      ? "Enter the API key under Options to see the model details."
      : `Model details unavailable: ${error.message}`;
  }
}

/** Display an image blob in the stage; resolves false when the browser cannot decode it. */
async function showImage(blob) {
  const url = URL.createObjectURL(blob);
  ui.preview.src = url;
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.imageUrl = url;
  try {
    await ui.preview.decode();
    ui.stage.hidden = false;
    return true;
  } catch {
    ui.stage.hidden = true;
    return false;
  }
}

/** Make face `index` the selected one: its box is pressed and the bars show its probabilities. */
function selectFace(index) {
  state.selected = index;
  const face = state.result.faces[index];
  markSelected(ui.overlay, index);
  ui.chartTitle.textContent = state.result.faces.length > 1
    ? `Probabilities for face ${index + 1} of ${state.result.faces.length}` : "Probabilities";
  renderBars(ui.bars, face, state.classNames);
  ui.chart.hidden = false;
}

/** Draw a /predict answer; in live mode keep the selection and the focused box. */
function showResult(result, { live = false } = {}) {
  const focused = ui.overlay.contains(document.activeElement) ? Number(document.activeElement.dataset.index) : -1;
  state.result = result;
  const count = result.faces.length;
  state.selected = live && state.selected < count ? state.selected : 0;
  renderFaces(ui.overlay, result, state.selected, selectFace);
  if (focused >= 0 && focused < count) ui.overlay.querySelector(`[data-index="${focused}"]`).focus();
  if (!count) {
    ui.chart.hidden = true;
    ui.caption.textContent = "No face found.";
    if (!live) {
      setStatus("No face found in this image. Try a sharper, front-facing photo, or set Face detection "
        + "to Never under Options.", { notice: true });
    }
    return;
  }
  selectFace(state.selected);
  const top = result.faces[state.selected];
  const summary = `${facesSummary(result)}. Face ${state.selected + 1}: ${top.label} (${percent(top.confidence)}).`;
  const hint = count > 1 ? " Click a box, or use Tab and the arrow keys, to choose a face." : "";
  // The status line already says it for one face; live mode keeps the status quiet.
  ui.caption.textContent = count > 1 || live ? summary + hint : "";
  if (!live) setStatus(summary);
}

/** Send one image (file, drop, paste or snapshot) and show what comes back. */
async function analyse(blob, filename) {
  cancelPending();
  const controller = new AbortController();
  state.controller = controller;
  state.lastInput = { blob, filename };
  hideVideo();
  clearError();
  setStatus(`Analysing ${filename}…`);
  ui.overlay.replaceChildren();
  ui.chart.hidden = true;
  ui.caption.textContent = "";
  const shown = showImage(blob);
  // On a phone the result is below the inputs: bring it into view.
  if (ui.result.getBoundingClientRect().top > window.innerHeight * 0.6) ui.result.scrollIntoView();
  try {
    const result = await predict(blob, { ...requestOptions(), filename, signal: controller.signal });
    await shown;
    showResult(result);
  } catch (error) {
    if (error.name === "AbortError") return;
    await shown; // a valid image stays visible under the error; a non-image is hidden
    state.retry = error.status === 401 ? { blob, filename } : null; // resent once a key is saved
    setStatus(`${filename} could not be analysed.`);
    showError(error instanceof ApiError ? error : new ApiError(error.message));
  } finally {
    if (state.controller === controller) state.controller = null;
  }
}
/** The API key and detect mode every /predict call sends. */
function requestOptions() {
  return { apiKey: state.apiKey, detect: ui.detect.value };
}

/** Abort an upload still in flight (a newer one, or live mode, replaces it). */
function cancelPending() {
  if (state.controller) state.controller.abort();
}

/** A live-mode frame and its answer: no status announcement, the selection is kept. */
async function showFrame(blob, result) {
  await showImage(blob);
  clearError();
  showResult(result, { live: true });
}

/** Wire every control and load the model details. */
function init() {
  let video = null;
  const analyseFile = (file) => (file.type.startsWith("video/") && video
    ? video.analyse(file) : analyse(file, file.name || "pasted image"));
  const webcam = new WebcamControls(ui, {
    analyse, showFrame, showError, clearError, setStatus, requestOptions, cancelPending,
  });
  ui.apiKey.value = state.apiKey;
  ui.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.apiKey = ui.apiKey.value.trim();
    saveApiKey(state.apiKey);
    const retry = webcam.live ? null : state.retry;
    state.retry = null;
    clearError();
    setStatus(state.apiKey ? "API key saved in this browser." : "API key removed.");
    loadMetadata();
    if (retry) analyse(retry.blob, retry.filename);
  });
  ui.detect.addEventListener("change", () => {
    if (state.lastInput && !webcam.live) analyse(state.lastInput.blob, state.lastInput.filename);
  });
  wireFileInputs(ui.fileInput, ui.dropZone, analyseFile);
  video = wireVideo({
    setStatus, showError, clearError, requestOptions,
    beforeVideo: () => {
      cancelPending();
      if (webcam.live) webcam.setLive(false);
      state.lastInput = null;
      ui.stage.hidden = ui.chart.hidden = true;
      ui.overlay.replaceChildren();
      ui.caption.textContent = "";
    },
  });
  loadMetadata();
}

init();
