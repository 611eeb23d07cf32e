# One image for both processes: `node dist/api/main.js` or `node dist/workers/main.js`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The API bundles the browser UI from these sources when it starts (api/web.ts).
COPY --from=build /app/web ./web
USER node
CMD ["node", "dist/api/main.js"]
