// refmgr review page: filter, keyboard navigation, lazy pictures. No network, no library.
"use strict";
(function () {
  var body = document.getElementById("lines");
  var shown = document.getElementById("shown");
  var selected = null;
  var selectors = { all: "tr.line", failing: "tr.line[data-failing]", changed: "tr.line[data-changed]" };

  function filterName() {
    return body.getAttribute("data-filter") || "all";
  }

  function visible(row) {
    return row.matches(selectors[filterName()]);
  }

  function setFilter(name) {
    body.setAttribute("data-filter", name);
    shown.textContent = String(body.querySelectorAll(selectors[name]).length);
  }

  function select(row) {
    if (selected !== null) {
      selected.classList.remove("sel");
      selected.setAttribute("aria-selected", "false");
    }
    selected = row;
    row.classList.add("sel");
    row.setAttribute("aria-selected", "true");
    row.scrollIntoView({ block: "nearest" });
  }

  // The next (step 1) or previous (step -1) row the filter shows.
  function move(step) {
    var row = selected;
    if (row === null) {
      row = step > 0 ? body.firstElementChild : body.lastElementChild;
    } else {
      row = step > 0 ? row.nextElementSibling : row.previousElementSibling;
    }
    while (row !== null && !visible(row)) {
      row = step > 0 ? row.nextElementSibling : row.previousElementSibling;
    }
    if (row !== null) {
      select(row);
    }
  }

  function toggle() {
    if (selected === null) {
      return;
    }
    var audio = selected.querySelector("audio.new") || selected.querySelector("audio");
    if (audio === null) {
      return;
    }
    if (audio.paused) {
      audio.play().catch(function () {});
    } else {
      audio.pause();
    }
  }

  document.addEventListener("keydown", function (event) {
    var tag = event.target && event.target.tagName;
    // Keys typed into a control are the control's (arrows move between the filter's
    // radio buttons), except j and k.
    var own = tag === "TEXTAREA" || tag === "SELECT" || tag === "AUDIO" ||
        tag === "INPUT" && event.key !== "j" && event.key !== "k";
    if (event.altKey || event.ctrlKey || event.metaKey || own) {
      return;
    }
    if (event.key === "j" || event.key === "ArrowDown") {
      move(1);
    } else if (event.key === "k" || event.key === "ArrowUp") {
      move(-1);
    } else if (event.key === " ") {
      toggle();
    } else {
      return;
    }
    event.preventDefault();
  });

  body.addEventListener("click", function (event) {
    var row = event.target.closest("tr.line");
    if (row !== null) {
      select(row);
    }
  });

  // One line plays at a time.
  document.addEventListener("play", function (event) {
    document.querySelectorAll("audio").forEach(function (audio) {
      if (audio !== event.target && !audio.paused) {
        audio.pause();
      }
    });
  }, true);

  document.querySelectorAll("input[name=filter]").forEach(function (input) {
    input.addEventListener("change", function () {
      setFilter(input.value);
    });
    if (input.checked) {
      setFilter(input.value);
    }
  });

  // Pictures are decoded only when their row comes near the screen.
  var pictures = document.querySelectorAll("img[data-src]");
  function show(img) {
    img.src = img.getAttribute("data-src");
    img.removeAttribute("data-src");
  }
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          observer.unobserve(entry.target);
          show(entry.target);
        }
      });
    }, { rootMargin: "600px 0px" });
    pictures.forEach(function (img) { observer.observe(img); });
  } else {
    pictures.forEach(show);
  }
})();
