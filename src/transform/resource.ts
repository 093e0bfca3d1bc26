// Owns which resource attributes become columns (service, project, version, environment) for every signal's rows.

import type { FlatAttributes } from '../otlp/model.js';

/** Resource attributes that become columns; every other resource attribute is kept in `attributes`. */
export const RESOURCE_COLUMNS = Object.freeze({
  service_name: ['service.name'],
  project_name: ['project.name'],
  project_version: ['project.version', 'service.version'],
  environment: ['deployment.environment.name', 'deployment.environment', 'environment'],
});

const CONSUMED = new Set(Object.values(RESOURCE_COLUMNS).flat());

export interface ResourceColumns {
  service_name: string;
  /** The project named on the resource, or '' (each signal decides what stands in for it). */
  project_name: string;
  project_version: string;
  environment: string;
  /** The resource attributes that are not columns. */
  rest: FlatAttributes;
  hasRest: boolean;
}

export function resourceColumns(resource: FlatAttributes): ResourceColumns {
  const first = (keys: readonly string[]): string => {
    for (const key of keys) {
      const value = resource[key];
      if (value !== undefined && value !== '') return value;
    }
    return '';
  };
  const rest = Object.create(null) as FlatAttributes;
  for (const [key, value] of Object.entries(resource)) if (!CONSUMED.has(key)) rest[key] = value;
  return {
    service_name: first(RESOURCE_COLUMNS.service_name) || 'unknown_service',
    project_name: first(RESOURCE_COLUMNS.project_name),
    project_version: first(RESOURCE_COLUMNS.project_version),
    environment: first(RESOURCE_COLUMNS.environment),
    rest,
    hasRest: Object.keys(rest).length > 0,
  };
}

/** Row attributes: the resource's non-column attributes, overridden by the record's own. */
export function mergedAttributes(resource: ResourceColumns, own: FlatAttributes): FlatAttributes {
  return resource.hasRest ? { ...resource.rest, ...own } : own;
}

/** A project named on the resource wins; then one named on the record; then the service stands for the project. */
export function projectOf(resource: ResourceColumns, own: FlatAttributes): string {
  return resource.project_name || own['project.name'] || resource.service_name;
}
