# syntax=docker/dockerfile:1
# One image for the API and the workers: the command picks the process.
#   docker build -t assistant-service .
#   docker run assistant-service                                   # the API (port 3000)
#   docker run assistant-service node apps/worker/dist/main.js     # a worker (health on 3001)
# Stages: `build` compiles the apps to JavaScript and fetches and verifies the embedding model;
# `prod-deps` installs production dependencies only; the final stage holds just those, the
# compiled apps and the model, runs as the unprivileged `node` user, and has `node` itself as PID 1
# (signals reach the app directly; no npm in between).

FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.base.json ./
COPY apps apps
COPY packages packages
COPY scripts scripts
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && XDG_CACHE_HOME=/app/.cache node scripts/setup-model.mjs \
 && mv /app/.cache/assistant-service/models/all-MiniLM-L6-v2-ONNX /app/model

FROM node:20.19-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Every workspace's manifest, so `npm ci` sees the same tree as the lockfile.
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/fake-llm/package.json apps/fake-llm/
COPY packages/cache/package.json packages/cache/
COPY packages/config/package.json packages/config/
COPY packages/contracts/package.json packages/contracts/
COPY packages/db/package.json packages/db/
COPY packages/embeddings/package.json packages/embeddings/
COPY packages/flags/package.json packages/flags/
COPY packages/limits/package.json packages/limits/
COPY packages/llm/package.json packages/llm/
COPY packages/queue/package.json packages/queue/
COPY packages/telemetry/package.json packages/telemetry/
COPY packages/testing/package.json packages/testing/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production \
    EMBEDDING_MODEL_DIR=/app/model \
    PORT=3000 \
    WORKER_PORT=3001
WORKDIR /app
COPY --from=prod-deps --chown=node:node /app/node_modules node_modules
COPY --from=prod-deps --chown=node:node /app/package.json package.json
COPY --from=build --chown=node:node /app/apps/api/dist apps/api/dist
COPY --from=build --chown=node:node /app/apps/worker/dist apps/worker/dist
COPY --from=build --chown=node:node /app/apps/cli/dist apps/cli/dist
COPY --from=build --chown=node:node /app/apps/cli/bin apps/cli/bin
COPY --from=build --chown=node:node /app/apps/fake-llm/dist apps/fake-llm/dist
COPY --from=build --chown=node:node /app/model model
COPY --from=build --chown=node:node /app/scripts/setup-model.mjs /app/scripts/model-manifest.json /app/scripts/healthcheck.mjs scripts/
# The baked-in model must be complete: the image fails to build otherwise.
RUN node scripts/setup-model.mjs
USER node
EXPOSE 3000 3001
# Six misses in a row (a minute) before unhealthy also covers the start (migrations, the model);
# no --start-period, which dockerfilelint 1.8 misreads as an unknown option.
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD ["node", "scripts/healthcheck.mjs"]
CMD ["node", "apps/api/dist/main.js"]
