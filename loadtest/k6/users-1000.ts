// Scenario "users-1000": 1000 users ask at once, one fresh question each, read over SSE.
// Numbers (rate, duration, thresholds) are in ../scenarios.json, shared with `npm run loadtest -- users-1000`.
// Run: BASE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… k6 run loadtest/k6/users-1000.ts
import { askOne, createUsers, optionsFor, scenarioNamed, type User } from './lib.ts';

const scenario = scenarioNamed('users-1000');
export const options = optionsFor('users-1000');
export const setup = createUsers;

export default function ask(users: User[]): void {
  askOne(scenario, users);
}
