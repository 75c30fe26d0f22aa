# Self-hosted workerd serving hearth on 127.0.0.1:8787 (`npm run build` first):
#
#   HEARTH_MODEL=stories260K.gguf npx workerd serve scripts/workerd.capnp --directory-path models=/path/to/models
#
# The `models` service is a read-only disk directory; the worker reads HEARTH_MODEL from it with Range requests.
# Without HEARTH_MODEL it serves the embedded default model. HEARTH_MMPROJ names a multimodal projector in the same
# folder (image and audio input). Other settings (HEARTH_API_KEY, HEARTH_PARALLEL,
# HEARTH_CONTEXT, HEARTH_QUEUE_LIMIT, HEARTH_CORS_ORIGINS, HEARTH_MAX_BODY_BYTES) come from the environment too.
# Another address: --socket-addr http=0.0.0.0:8080.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "hearth", worker = .hearth),
    (name = "models", disk = (path = "/srv/models", writable = false)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "hearth")],
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
    (name = "HEARTH_QUEUE_LIMIT", fromEnvironment = "HEARTH_QUEUE_LIMIT"),
    (name = "HEARTH_CONTEXT", fromEnvironment = "HEARTH_CONTEXT"),
    (name = "HEARTH_CORS_ORIGINS", fromEnvironment = "HEARTH_CORS_ORIGINS"),
    (name = "HEARTH_MAX_BODY_BYTES", fromEnvironment = "HEARTH_MAX_BODY_BYTES"),
    (name = "HEARTH_MAX_AUDIO_SECONDS", fromEnvironment = "HEARTH_MAX_AUDIO_SECONDS"),
    (name = "HEARTH_IMAGE_MAX_TOKENS", fromEnvironment = "HEARTH_IMAGE_MAX_TOKENS"),
  ],
);
