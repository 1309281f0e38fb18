// Scenario "soak": Soak: 100 qps of the Zipf mix for 1 h.
// Numbers (rate, duration, thresholds) are in ../scenarios.json, shared with `npm run loadtest -- soak`.
// Run: BASE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… k6 run loadtest/k6/soak.ts
import { askOne, createUsers, optionsFor, scenarioNamed, type User } from './lib.ts';

const scenario = scenarioNamed('soak');
export const options = optionsFor('soak');
export const setup = createUsers;

export default function ask(users: User[]): void {
  askOne(scenario, users);
}
