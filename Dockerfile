# syntax=docker/dockerfile:1
# hookwise's container image, for builders that can pull public base images:
#   docker build -t REGISTRY/hookwise:VERSION --build-arg VERSION=0.1.0 \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg SOURCE=https://... .
# `npm run image` (scripts/image/) builds the same image from the package registries alone: it does
# the build and deps stages on the build machine and runs this file's final stage on its own base.
# Three stages: compile the TypeScript; install the production dependencies (better-sqlite3 is a
# native module: a prebuilt binary or a compile, hence the full node image); run on BASE, a Node.js
# 20 at /nodejs/bin/node with the user 65532 (distroless Node.js), with no shell or package manager.
ARG BASE=gcr.io/distroless/nodejs20-debian12:nonroot

FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own prepare script (a build) needs the sources, copied next.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY controller ./controller
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/image/prune.mjs /tmp/prune.mjs
# Production dependencies only; better-sqlite3's install script is the one script needed. Then what
# nothing loads at run time goes (prune.mjs), and the SBOM of what stays (package.json without the
# devDependencies the image does not have, which `npm sbom` would report as missing).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && node /tmp/prune.mjs node_modules \
 && npm pkg delete devDependencies \
 && npm sbom --omit=dev --sbom-format=cyclonedx > sbom.cdx.json \
 && npm cache clean --force

FROM ${BASE}
ARG VERSION=""
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="hookwise" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/sbom.cdx.json ./sbom.cdx.json
COPY --from=build /src/dist/controller ./dist/controller
COPY crds ./crds
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/controller/cli/main.js"]
CMD ["--help"]
