# The reference service image (also runs the standalone collector and the dead man's switch).
# Two stages: native modules (argon2) may need a compiler when no prebuild fits; the runtime stage
# carries only production dependencies and the compiled JavaScript, and runs as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY exporter ./exporter
COPY collector ./collector
COPY alerts ./alerts
COPY dashboards ./dashboards
COPY app ./app
COPY scripts ./scripts
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only for the service user: it cannot rewrite its own code.
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --from=build --chown=root:root /src/package.json ./package.json
# tsc does not copy the .sql files: app/db/migrate.ts also looks for them at <root>/app/migrations.
COPY --from=build --chown=root:root /src/app/migrations ./app/migrations
COPY deploy/app/with-secret-files.sh /usr/local/bin/with-secret-files
RUN chmod 0755 /usr/local/bin/with-secret-files \
  && groupadd --system --gid 10001 telehealth \
  && useradd --system --uid 10001 --gid telehealth --home-dir /app --shell /usr/sbin/nologin telehealth \
  && mkdir -p /var/lib/telehealth && chown telehealth:telehealth /var/lib/telehealth
USER telehealth
ENV DATA_DIR=/var/lib/telehealth
EXPOSE 3000 9464
ENTRYPOINT ["/usr/local/bin/with-secret-files"]
CMD ["node", "--require", "./dist/collector/tracing-preload.js", "dist/app/main.js"]
