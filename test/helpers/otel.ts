import { SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface EmittedSpan {
  traceId: string;
  spanId: string;
}

/**
 * Emits one real span through the official OpenTelemetry JS SDK and OTLP exporter (protobuf or JSON),
 * and returns its ids once the exporter has delivered it.
 */
export async function emitSpan(options: {
  url: string;
  encoding: 'protobuf' | 'json';
  headers?: Record<string, string>;
  resource: Record<string, string>;
  name: string;
  attributes?: Record<string, string | number | boolean | string[]>;
  error?: string;
  durationMs?: number;
}): Promise<EmittedSpan> {
  const exporterOptions = { url: options.url, headers: options.headers ?? {} };
  const exporter = options.encoding === 'protobuf' ? new ProtoExporter(exporterOptions) : new HttpJsonExporter(exporterOptions);
  const failures: unknown[] = [];
  const wrapped = {
    export: (spans: Parameters<typeof exporter.export>[0], done: Parameters<typeof exporter.export>[1]) =>
      exporter.export(spans, (result) => {
        if (result.error) failures.push(result.error);
        done(result);
      }),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush(),
  };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(options.resource),
    spanProcessors: [new SimpleSpanProcessor(wrapped)],
  });
  const tracer = provider.getTracer('automagik-telemetry-tests');
  const start = Date.now() - (options.durationMs ?? 0);
  const span = tracer.startSpan(options.name, { attributes: options.attributes ?? {}, startTime: start });
  if (options.error) span.setStatus({ code: SpanStatusCode.ERROR, message: options.error });
  span.end(start + (options.durationMs ?? 0));
  await provider.forceFlush();
  await provider.shutdown();
  if (failures.length > 0) throw failures[0];
  return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
}
