import { z } from 'zod';

/** A prompt version reference: `<template>@<version>`, e.g. `answer@2`. */
export const PromptRef = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}@[1-9][0-9]{0,5}$/, 'prompt must look like answer@2');
export type PromptRef = z.infer<typeof PromptRef>;

/** A variant of an experiment: its share of users and what it changes. */
export const ExperimentVariant = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'variant names are lower-case words'),
  weight: z.number().min(0, 'weights must be >= 0').max(1_000_000),
  prompt: PromptRef.optional(),
  model: z.string().min(1).max(200).optional(),
});
export type ExperimentVariant = z.infer<typeof ExperimentVariant>;

/** Body of `POST /v1/admin/experiments`. The first variant is the control. */
export const CreateExperiment = z.strictObject({
  name: z.string().trim().min(1).max(200),
  variants: z.array(ExperimentVariant).min(2, 'an experiment needs at least two variants').max(10),
});
export type CreateExperiment = z.infer<typeof CreateExperiment>;

/** Lifecycle of an experiment: only a `running` one assigns; a `promoted` winner is the default. */
export const ExperimentStatus = z.enum(['draft', 'running', 'stopped', 'promoted', 'retired']);
export type ExperimentStatus = z.infer<typeof ExperimentStatus>;

/** Body of `POST /v1/admin/experiments/:id/promote`. */
export const PromoteExperiment = z.strictObject({ variant: z.string().min(1).max(40) });
export type PromoteExperiment = z.infer<typeof PromoteExperiment>;

/** The variant a query was answered under, as the job carries it to the worker. */
export const AssignedVariant = z.strictObject({
  experiment_id: z.string().min(1),
  variant: z.string().min(1),
  prompt: PromptRef.optional(),
  model: z.string().min(1).optional(),
});
export type AssignedVariant = z.infer<typeof AssignedVariant>;
