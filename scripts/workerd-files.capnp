# A local file server for model files (answers Range requests), e.g. for `MODEL_URL` under wrangler dev:
#
#   npx workerd serve scripts/workerd-files.capnp --directory-path models=/path/to/models
#   curl -r 0-3 http://127.0.0.1:8080/stories260K.gguf      # GGUF
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "models", disk = (path = "/srv/models", writable = false))],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "models")],
);
