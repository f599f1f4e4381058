/**
 * The ext_proc service as a grpc-js service definition with the generated protobuf-es codecs, for
 * the fake ext_proc servers of the tests (the Envoy-client tests' fake processor, the bench's
 * fake). The processor's own definition (`processor/server/services.ts`) differs on purpose: it
 * never throws on undecodable bytes and sends pre-encoded replies.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import {
  type ProcessingRequest,
  ProcessingRequestSchema,
  type ProcessingResponse,
  ProcessingResponseSchema,
} from "../../processor/gen/envoy/service/ext_proc/v3/external_processor_pb.ts";

/** `envoy.service.ext_proc.v3.ExternalProcessor` with its one method, `Process`. */
export const EXT_PROC_SERVICE = {
  process: {
    path: "/envoy.service.ext_proc.v3.ExternalProcessor/Process",
    requestStream: true,
    responseStream: true,
    requestSerialize: (message: ProcessingRequest) =>
      Buffer.from(toBinary(ProcessingRequestSchema, message)),
    requestDeserialize: (bytes: Buffer) => fromBinary(ProcessingRequestSchema, bytes),
    responseSerialize: (message: ProcessingResponse) =>
      Buffer.from(toBinary(ProcessingResponseSchema, message)),
    responseDeserialize: (bytes: Buffer) => fromBinary(ProcessingResponseSchema, bytes),
  },
} satisfies grpc.ServiceDefinition;
