# btkit as a container image: the CLI on PATH as `btkit`, and the entrypoint. It is the image of
# `btkit prep --processing --image URI` (a SageMaker Processing job's ContainerEntrypoint is
# ["btkit"], its arguments the command line with --part auto), and runs as well as an AWS Batch
# array job or a Kubernetes Indexed Job (`--part auto --parts N`). Build, then push to ECR:
#   docker build -t btkit .
# test/dockerfile.test.ts checks what can be checked without Docker (the files copied exist, the
# entrypoint is the package's bin, the build script is package.json's).

# 1: compile the TypeScript (dev dependencies: typescript)
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build

# 2: the runtime: production dependencies and dist/ only
FROM node:20-slim
# MALLOC_ARENA_MAX is not set here: prep and join run themselves again with it, and join with V8's
# smaller young generation, as anywhere on Linux (src/cli/relaunch.ts)
ENV NODE_ENV=production
WORKDIR /opt/btkit
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/bin ./dist/bin
RUN chmod +x /opt/btkit/dist/bin/btkit.js && ln -s /opt/btkit/dist/bin/btkit.js /usr/local/bin/btkit
ENTRYPOINT ["btkit"]
