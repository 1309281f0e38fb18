# One image for both processes: `npm run start:api` or `npm run start:worker`.
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY apps apps
COPY packages packages
COPY scripts scripts
RUN npm ci --no-audit --no-fund \
 && node scripts/setup-model.mjs
ENV NODE_ENV=production
EXPOSE 3000 3001
CMD ["npm", "run", "start:api"]
