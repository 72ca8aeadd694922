// Every figure of a chapter opens full size with one tap or click: on a phone the column shrinks a figure to about
// half its size, and the SVG behind it stays sharp at any zoom (added by book/_ext/reader_layout.py).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".cell_output img").forEach((img) => {
    if (img.closest("a")) {
      return;
    }
    const link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "reader-figure-link";
    link.title = "Open the figure full size";
    img.replaceWith(link);
    link.appendChild(img);
  });
});
