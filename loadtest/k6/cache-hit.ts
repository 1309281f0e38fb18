// Scenario "cache-hit": Cache-hit heavy: a Zipf mix of questions at a constant arrival rate.
// Numbers (rate, duration, thresholds) are in ../scenarios.json, shared with `npm run loadtest -- cache-hit`.
// Run: BASE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… k6 run loadtest/k6/cache-hit.ts
import { askOne, createUsers, optionsFor, scenarioNamed, type User } from './lib.ts';

const scenario = scenarioNamed('cache-hit');
export const options = optionsFor('cache-hit');
export const setup = createUsers;

export default function ask(users: User[]): void {
  askOne(scenario, users);
}
