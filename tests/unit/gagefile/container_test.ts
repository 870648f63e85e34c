import assert from "node:assert/strict";
import { readOpDef } from "../../../lib/gagefile/optable.ts";

const op = (table: Record<string, unknown>) => readOpDef("gage.toml", "train", table);

Deno.test("dockerfile: path-map's '.' is the run dir's place in the container, not a dir in the run dir", () => {
  const train = op({
    exec: "sh train.sh",
    dockerfile: "Dockerfile",
    "path-map": { ".": "usr/local/src/myapp", data: "inputs" },
  });
  assert.deepEqual(train.container, { dockerfile: "Dockerfile", dir: "/usr/local/src/myapp" });
  assert.deepEqual(train.pathMap, [{ from: "data", to: "inputs" }]);
});

Deno.test("image: without a '.' entry the run dir is at /work; an op without either runs here", () => {
  assert.deepEqual(op({ exec: "true", image: "busybox" }).container, {
    image: "busybox",
    dir: "/work",
  });
  const here = op({ exec: "true", "path-map": { ".": "src/app" } });
  assert.equal(here.container, undefined);
  assert.deepEqual(here.pathMap, [{ from: "", to: "src/app" }]);
});

Deno.test("container attributes refuse both at once, an empty name and a Dockerfile outside the project", () => {
  assert.throws(
    () => op({ image: "a", dockerfile: "Dockerfile" }),
    /attributes "image" and "dockerfile" both name the image; keep one/,
  );
  assert.throws(() => op({ image: "" }), /attribute "image" must be a non-empty string/);
  assert.throws(() => op({ dockerfile: "../Dockerfile" }), /must be a path in the project/);
  assert.throws(() => op({ dockerfile: "/etc/Dockerfile" }), /must be a path in the project/);
});
