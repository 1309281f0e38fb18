// Scenario "spike": Spike: the arrival rate ramps to 500 qps, holds, and ramps down.
// Numbers (rate, duration, thresholds) are in ../scenarios.json, shared with `npm run loadtest -- spike`.
// Run: BASE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… k6 run loadtest/k6/spike.ts
import { askOne, createUsers, optionsFor, scenarioNamed, type User } from './lib.ts';

const scenario = scenarioNamed('spike');
export const options = optionsFor('spike');
export const setup = createUsers;

export default function ask(users: User[]): void {
  askOne(scenario, users);
}
