// The webcam: start/stop a getUserMedia stream and grab frames as JPEG blobs.

/** Why the camera cannot be used here, or "" when it can be tried. */
export function cameraUnavailableReason() {
  if (!window.isSecureContext) {
    return "The camera only works on pages served over https or from localhost. Upload a photo instead.";
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return "This browser does not offer camera access. Upload a photo instead.";
  }
  return "";
}

/** A user-facing sentence for a getUserMedia failure. */
function explain(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera permission was denied. Allow it in the browser's site settings, or upload a photo.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Connect one, or upload a photo.";
    case "NotReadableError":
      return "The camera is in use by another application.";
    default:
      return `The camera could not be started${error && error.message ? `: ${error.message}` : ""}.`;
  }
}

export class Camera {
  /** Wraps a <video> element; frames are scaled down to maxSide pixels before sending. */
  constructor(video, { maxSide = 640 } = {}) {
    this.video = video;
    this.maxSide = maxSide;
    this.stream = null;
    this.canvas = document.createElement("canvas");
  }

  get active() {
    return this.stream !== null;
  }

  /** Ask for the camera and play it in the video element; throws Error with a readable message. */
  async start() {
    const reason = cameraUnavailableReason();
    if (reason) throw new Error(reason);
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
        audio: false,
      });
    } catch (error) {
      throw new Error(explain(error));
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    if (!this.video.videoWidth) {
      await new Promise((resolve) => this.video.addEventListener("loadedmetadata", resolve, { once: true }));
    }
  }

  /** Release the camera (its light goes off). */
  stop() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  /** The current frame as a JPEG blob, at most maxSide pixels on its longer side. */
  frame(quality = 0.85) {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) return Promise.reject(new Error("The camera has not delivered a frame yet."));
    const scale = Math.min(1, this.maxSide / Math.max(width, height));
    this.canvas.width = Math.round(width * scale);
    this.canvas.height = Math.round(height * scale);
    this.canvas.getContext("2d").drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height);
    return new Promise((resolve, reject) => {
      this.canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error("Could not capture a frame."))),
        "image/jpeg",
        quality,
      );
    });
  }
}
