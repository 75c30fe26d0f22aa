# A pipeline worker calling hearth over RPC inside one workerd (`npm run build` first):
#
#   HEARTH_MODEL=stories260K.gguf npx workerd serve scripts/workerd-pipeline.capnp \
#     --directory-path models=/path/to/models
#   curl -s localhost:8788/summarize -d '{"text": "Once upon a time..."}'
#
# :8788 is the pipeline (scripts/pipeline-worker.js); hearth's own HTTP API stays on :8787. The pipeline reaches
# hearth through the service binding HEARTH, whose entrypoint "Hearth" is the RPC class of dist/worker.js.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "hearth", worker = .hearth),
    (name = "pipeline", worker = .pipeline),
    (name = "models", disk = (path = "/srv/models", writable = false)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "hearth"),
    (name = "pipeline", address = "127.0.0.1:8788", http = (), service = "pipeline"),
  ],
);

const hearth :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "../dist/worker.js"),
    (name = "hearth-relaxed.wasm", wasm = embed "../dist/hearth-relaxed.wasm"),
    (name = "hearth-nano.gguf", data = embed "../dist/hearth-nano.gguf"),
    (name = "hearth-nano-mmproj.gguf", data = embed "../dist/hearth-nano-mmproj.gguf"),
    (name = "hearth-nano-assistant.gguf", data = embed "../dist/hearth-nano-assistant.gguf"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [
    (name = "MODELS", service = "models"),
    (name = "HEARTH_MODEL", fromEnvironment = "HEARTH_MODEL"),
    (name = "HEARTH_MMPROJ", fromEnvironment = "HEARTH_MMPROJ"),
    (name = "HEARTH_API_KEY", fromEnvironment = "HEARTH_API_KEY"),
    (name = "HEARTH_PARALLEL", fromEnvironment = "HEARTH_PARALLEL"),
    (name = "HEARTH_CONTEXT", fromEnvironment = "HEARTH_CONTEXT"),
  ],
);

const pipeline :Workerd.Worker = (
  modules = [(name = "pipeline-worker.js", esModule = embed "pipeline-worker.js")],
  compatibilityDate = "2025-09-01",
  bindings = [(name = "HEARTH", service = (name = "hearth", entrypoint = "Hearth"))],
);
