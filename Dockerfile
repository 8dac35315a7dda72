# syntax=docker/dockerfile:1
# hookwise's container image: docker build -t REGISTRY/hookwise:VERSION .
# Three stages: compile the TypeScript; install the production dependencies (better-sqlite3 is a
# native module: a prebuilt binary or a compile, hence the full node image); run on distroless
# Node.js as a non-root user, with no shell or package manager in the image.

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
# Production dependencies only; better-sqlite3's install script is the one script needed.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY --from=build /src/dist/controller ./dist/controller
COPY crds ./crds
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/controller/cli/main.js"]
CMD ["--help"]
