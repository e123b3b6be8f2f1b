"""The web page at / in headless Chromium against real gunicorn: upload, errors, keys, camera."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tests.browser.pages import API_KEY, screenshot
from tests.support.models import SHIPPED_MODEL

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def api_predict(api, path, **params) -> tuple[int, dict]:
    """The API's own answer for a file, to compare with what the page shows."""
    response = api.post("/predict", params=params, files={"image": (path.name, path.read_bytes())})
    return response.status_code, response.json()


def test_page_shows_model_version_and_test_accuracy(open_page, api):
    metadata = api.get("/metadata").json()
    page = open_page()
    expect(page).to_have_title("Facial emotion recognition")
    expected = f"version {metadata['version']} · test accuracy {metadata['metrics']['accuracy'] * 100:.1f}%"
    expect(page.locator("#model-info")).to_contain_text(expected)


def test_uploaded_face_gets_a_box_its_label_and_probability_bars(open_page, api, test_images):
    status, answer = api_predict(api, test_images["face"])
    assert status == 200 and answer["faces_found"], answer
    classes = api.get("/metadata").json()["class_names"]
    face = answer["faces"][0]
    page = open_page()

    page.locator("#file-input").set_input_files(test_images["face"])

    boxes = page.locator(".face-box")
    expect(boxes).to_have_count(len(answer["faces"]))
    expect(boxes.first).to_contain_text(face["label"])
    expect(boxes.first).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#status")).to_contain_text(f"Face 1: {face['label']}")
    bars = page.locator("#bars li")
    expect(bars).to_have_count(len(classes))
    assert bars.evaluate_all("rows => rows.map(r => r.dataset.class)") == classes
    expect(page.locator("#bars li.top")).to_have_attribute("data-class", face["label"])
    widths = bars.evaluate_all("rows => rows.map(r => parseFloat(r.querySelector('.bar-fill').style.width))")
    assert widths == pytest.approx([100 * face["probabilities"][c] for c in classes], abs=0.01)
    # The box sits where the API says the face is, scaled to the displayed image.
    shown = page.locator("#preview").bounding_box()
    box = boxes.first.bounding_box()
    scale = shown["width"] / answer["image"]["width"]
    assert box["x"] - shown["x"] == pytest.approx(face["box"]["x"] * scale, abs=2)
    assert box["width"] == pytest.approx(face["box"]["width"] * scale, abs=2)
    screenshot(page, "desktop-face")


def test_real_model_reads_the_smile(open_page, served_model, test_images):
    if served_model != SHIPPED_MODEL:
        pytest.skip("models/emotion has no trained model; the tiny test model's labels are random")
    page = open_page()
    page.locator("#file-input").set_input_files(test_images["face"])
    expect(page.locator(".face-box").first).to_contain_text("happy")
    expect(page.locator("#bars li.top")).to_have_attribute("data-class", "happy")


def test_non_image_shows_the_servers_error_message(open_page, api, console, test_images):
    status, answer = api_predict(api, test_images["not_image"])
    assert status == 400
    console.allow_status(400)
    page = open_page()
    page.locator("#file-input").set_input_files(test_images["not_image"])
    expect(page.get_by_role("alert")).to_have_text(answer["error"]["message"])
    expect(page.locator("#status")).to_contain_text("notes.txt could not be analysed")
    expect(page.locator(".face-box")).to_have_count(0)
    expect(page.locator("#stage")).to_be_hidden()
    screenshot(page, "desktop-error")


def test_no_face_found_is_said_plainly(open_page, test_images):
    page = open_page()
    page.locator("#file-input").set_input_files(test_images["no_face"])
    expect(page.locator("#status")).to_contain_text("No face found")
    expect(page.locator(".face-box")).to_have_count(0)
    expect(page.locator("#chart")).to_be_hidden()


def test_missing_api_key_is_explained_and_entering_it_retries(open_page, console, test_images):
    console.allow_status(401)
    page = open_page(with_key=False)
    expect(page.locator("#model-info")).to_contain_text("Enter the API key")
    page.locator("#file-input").set_input_files(test_images["face"])
    expect(page.get_by_role("alert")).to_have_text("missing or wrong X-API-Key header")
    key = page.get_by_label("API key")
    expect(key).to_be_visible()  # the options opened by themselves
    expect(key).to_have_attribute("aria-invalid", "true")

    key.fill(API_KEY)
    key.press("Enter")

    expect(page.locator(".face-box")).to_have_count(1)
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.locator("#model-info")).to_contain_text("test accuracy")
    assert page.evaluate("localStorage.getItem('emotion.apiKey')") == API_KEY


def test_phone_width_and_choosing_a_face_with_keyboard_and_click(open_page, api, test_images):
    _, answer = api_predict(api, test_images["two_faces"])
    assert len(answer["faces"]) == 2, answer
    page = open_page(width=390, height=844)
    page.locator("#file-input").set_input_files(test_images["two_faces"])
    boxes = page.locator(".face-box")
    expect(boxes).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "horizontal scrolling on a phone"

    boxes.nth(0).focus()
    page.keyboard.press("ArrowRight")
    expect(boxes.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(boxes.nth(1)).to_be_focused()
    expect(page.locator("#chart-title")).to_have_text("Probabilities for face 2 of 2")
    expect(page.locator("#bars li.top")).to_have_attribute("data-class", answer["faces"][1]["label"])
    boxes.nth(0).click()
    expect(boxes.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(boxes.nth(1)).to_have_attribute("aria-pressed", "false")
    screenshot(page, "phone-two-faces")


def test_drag_and_drop_an_image(open_page, test_images):
    page = open_page()
    data = base64.b64encode(test_images["face"].read_bytes()).decode()
    transfer = page.evaluate_handle(
        """data => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
            return transfer;
        }""",
        data,
    )
    zone = page.locator("#drop-zone")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class("drop-zone dragging")
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.locator(".face-box")).to_have_count(1)
    expect(zone).to_have_class("drop-zone")


def test_webcam_snapshot_and_live_mode(open_page, context, service_url):
    page = open_page()
    predictions = []
    page.on("requestfinished", lambda req: "/predict" in req.url and predictions.append(req))
    page.get_by_role("button", name="Start camera").click()
    expect(page.locator("#video")).to_be_visible()

    page.get_by_role("button", name="Take snapshot").click()
    expect(page.locator(".face-box")).to_have_count(1)

    live = page.get_by_role("button", name="Live mode")
    live.click()
    expect(live).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Take snapshot")).to_be_disabled()
    page.wait_for_function("() => document.querySelectorAll('.face-box').length === 1")
    page.wait_for_timeout(1500)
    assert len(predictions) >= 3, "live mode should send several frames"
    expect(page.locator("#faces-caption")).to_contain_text("1 face found")
    screenshot(page, "desktop-webcam-live")
    live.click()
    expect(live).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="Stop camera").click()
    expect(page.locator("#video")).to_be_hidden()


def test_camera_unavailable_is_explained(open_page, context):
    context.add_init_script("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})")
    page = open_page()
    expect(page.get_by_role("button", name="Start camera")).to_be_disabled()
    expect(page.locator("#camera-hint")).to_contain_text("does not offer camera access")


def test_every_control_has_a_label(open_page):
    page = open_page()
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button, a[href]')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim())
            .map(el => el.outerHTML)"""
    )
    assert unnamed == []
    assert page.evaluate("document.documentElement.lang") == "en"
