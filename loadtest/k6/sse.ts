// Scenario "sse": Submit a fresh question and read its SSE stream to done.
// Numbers (rate, duration, thresholds) are in ../scenarios.json, shared with `npm run loadtest -- sse`.
// Run: BASE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… k6 run loadtest/k6/sse.ts
import { askOne, createUsers, optionsFor, scenarioNamed, type User } from './lib.ts';

const scenario = scenarioNamed('sse');
export const options = optionsFor('sse');
export const setup = createUsers;

export default function ask(users: User[]): void {
  askOne(scenario, users);
}
