// Video mode: upload a short clip to /predict/video, then one timeline chart per face track
// (stacked class probabilities over time, drawn as SVG) and each track's dominant emotion.

import { ApiError, predictVideo } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
// Same colours as timeline.png (service/video/timeline.py), so the page and the CLI's chart agree.
const COLOURS = {
  angry: "#d62728", disgust: "#8c564b", fear: "#9467bd", happy: "#f2b701",
  neutral: "#7f7f7f", sad: "#1f77b4", surprise: "#2ca02c",
};
const FALLBACK = ["#17becf", "#bcbd22", "#e377c2", "#ff7f0e"];
const WIDTH = 600;
const HEIGHT = 120;

const $ = (id) => document.getElementById(id);

/** An SVG element with attributes. */
function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** The class names in the order the answer uses. */
function classesOf(result) {
  for (const frame of result.frames) for (const face of frame.faces) return Object.keys(face.probabilities);
  return [];
}

/** Stacked probability bands of one track as SVG polygons; x is time over the analysed span. */
function trackChart(track, result, classes, span, step) {
  const points = [];
  for (const frame of result.frames) {
    const face = frame.faces.find((f) => f.track_id === track.track_id);
    if (face) points.push({ t: frame.time_s, p: face.probabilities });
  }
  const x = (t) => (WIDTH * t) / span;
  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "track-svg", role: "img",
    "aria-label": `Track ${track.track_id}: probabilities over time, mostly ${track.dominant_emotion}`,
  });
  chart.append(svg("rect", { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: "track-bg" }));
  const below = points.map(() => 0);
  classes.forEach((name, index) => {
    const top = points.map((point, i) => below[i] + (point.p[name] || 0));
    // One step per sample (half way to its neighbours), like matplotlib's step="mid".
    const edge = (values) => points.flatMap((point, i) => {
      const left = i ? (points[i - 1].t + point.t) / 2 : point.t;
      const right = i < points.length - 1 ? (point.t + points[i + 1].t) / 2 : Math.min(span, point.t + step);
      return [[x(left), HEIGHT * (1 - values[i])], [x(right), HEIGHT * (1 - values[i])]];
    });
    const outline = [...edge(top), ...edge(below).reverse()];
    const band = svg("polygon", {
      points: outline.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" "),
      fill: COLOURS[name] || FALLBACK[index % FALLBACK.length],
      class: "band", "data-class": name,
    });
    chart.append(band);
    top.forEach((value, i) => { below[i] = value; });
  });
  return chart;
}

/** "0.0–2.8 s" */
const span = (track) => `${track.first_s.toFixed(1)}–${track.last_s.toFixed(1)} s`;

/** The legend: one swatch per class. */
function legend(classes) {
  const list = document.createElement("ul");
  list.className = "legend";
  classes.forEach((name, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = COLOURS[name] || FALLBACK[index % FALLBACK.length];
    item.append(swatch, document.createTextNode(name));
    list.append(item);
  });
  return list;
}

/** Draw a /predict/video answer into the video result section. */
export function renderVideo(section, result) {
  const classes = classesOf(result);
  const step = 1 / (result.video.sample_fps || 4); // a sample stands for the time until the next one
  const analysed = result.video.complete && result.video.duration_s ? result.video.duration_s
    : result.video.analysed_s + step;
  const total = Math.max(analysed, ...result.tracks.map((t) => t.last_s + step), 0.001);
  const list = section.querySelector("#tracks");
  list.replaceChildren();
  for (const track of result.tracks) {
    const item = document.createElement("li");
    item.className = "track";
    item.dataset.trackId = String(track.track_id);
    item.dataset.dominant = track.dominant_emotion;
    const title = document.createElement("h4");
    title.className = "track-title";
    title.textContent = `Face ${track.track_id}: mostly ${track.dominant_emotion} `
      + `(${Math.round(track.dominant_probability * 100)}%), ${span(track)}, ${track.frames} frames`;
    item.append(title, trackChart(track, result, classes, total, step));
    list.append(item);
  }
  const axis = section.querySelector("#video-axis");
  axis.textContent = `0 s … ${total.toFixed(1)} s`;
  const old = section.querySelector(".legend");
  if (old) old.remove();
  if (classes.length) section.querySelector("#video-charts").append(legend(classes));
  section.hidden = false;
}

/**
 * The video mode; page: {setStatus, showError, clearError, requestOptions, beforeVideo}.
 * Returns {analyse(file)}, also used for video files dropped or pasted on the page.
 */
export function wireVideo(page) {
  const input = $("video-input");
  const section = $("video-result");
  let controller = null;

  async function analyse(file) {
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = controller;
    page.beforeVideo();
    page.clearError();
    section.hidden = true;
    page.setStatus(`Analysing ${file.name}: a few frames per second of it…`);
    try {
      const options = { ...page.requestOptions(), filename: file.name, signal: mine.signal };
      const result = await predictVideo(file, options);
      renderVideo(section, result);
      const count = result.tracks.length;
      const summary = count
        ? result.tracks.map((t) => `face ${t.track_id} mostly ${t.dominant_emotion}`).join(", ")
        : "no face found";
      page.setStatus(`${file.name}: ${result.video.frames_sampled} frames analysed, `
        + `${count} face track${count === 1 ? "" : "s"}: ${summary}.`, { notice: !count });
    } catch (error) {
      if (error.name === "AbortError") return;
      page.setStatus(`${file.name} could not be analysed.`);
      page.showError(error instanceof ApiError ? error : new ApiError(error.message));
    } finally {
      if (controller === mine) controller = null;
    }
  }

  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = ""; // choosing the same file again still fires "change"
    if (file) analyse(file);
  });
  return { analyse };
}

/** Hide the video result (an image is being shown instead). */
export function hideVideo() {
  $("video-result").hidden = true;
}
