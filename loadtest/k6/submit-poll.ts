// Scenario "submit-poll": Submit a fresh question and long-poll it to its end.
// Numbers (rate, duration, thresholds) are in ../scenarios.json, shared with `npm run loadtest -- submit-poll`.
// Run: BASE_URL=http://127.0.0.1:3000 ADMIN_TOKEN=… k6 run loadtest/k6/submit-poll.ts
import { askOne, createUsers, optionsFor, scenarioNamed, type User } from './lib.ts';

const scenario = scenarioNamed('submit-poll');
export const options = optionsFor('submit-poll');
export const setup = createUsers;

export default function ask(users: User[]): void {
  askOne(scenario, users);
}
