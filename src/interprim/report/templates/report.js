(function () {
  "use strict";

  // Click an image of class "zoom" to see it large in the lightbox dialog; a click or Esc closes it.
  // The large image is made on the first click, so the page holds no image without a source.
  var box = document.getElementById("lightbox");
  var caption = box.querySelector(".caption");
  var big = null;
  document.querySelectorAll("img.zoom").forEach(function (img) {
    img.addEventListener("click", function () {
      if (!big) {
        big = document.createElement("img");
        box.insertBefore(big, caption);
      }
      big.src = img.src;
      big.alt = img.alt;
      caption.textContent = img.dataset.caption || img.alt;
      box.showModal();
    });
  });
  box.addEventListener("click", function () { box.close(); });

  // The sample browser: one sample visible at a time; Previous / Next, the select, and the arrow keys.
  var browser = document.getElementById("browser");
  if (!browser) {
    return;
  }
  var samples = Array.prototype.slice.call(browser.querySelectorAll(".sample"));
  var select = browser.querySelector("select");
  var position = browser.querySelector(".position");
  var current = 0;

  function show(i) {
    current = (i + samples.length) % samples.length;
    samples.forEach(function (sample, j) { sample.hidden = j !== current; });
    select.value = String(current);
    position.textContent = "sample " + (current + 1) + " of " + samples.length;
  }

  browser.querySelector(".prev").addEventListener("click", function () { show(current - 1); });
  browser.querySelector(".next").addEventListener("click", function () { show(current + 1); });
  select.addEventListener("change", function () { show(Number(select.value)); });
  document.addEventListener("keydown", function (event) {
    if (box.open || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    var step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    if (step) {
      event.preventDefault();
      show(current + step);
    }
  });
  show(0);
})();
