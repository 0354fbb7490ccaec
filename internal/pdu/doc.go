// Package pdu is a pure SMPP v3.4 codec: bytes in, structs out, and back.
// It does no I/O, no logging and keeps no global state. Lengths are checked
// before anything is allocated, field limits of the specification are
// enforced on decode, and error responses are encoded as the bare header.
//
// Choices the specification leaves open:
//
//   - A known command always decodes to its typed body; a response with a
//     non-zero status (or an empty body) gets the zero body of its type, so
//     callers can switch on the type. Body is nil only when Decode fails.
//   - Requests are read strictly, responses leniently (see Decode).
//   - An over-long field answers with its own status where SMPP has one;
//     address_range answers ESME_RBINDFAIL, final_date ESME_RINVMSGLEN.
//   - A schedule_delivery_time or validity_period that is neither empty nor
//     16 characters answers ESME_RINVSCHED / ESME_RINVEXPIRY.
//   - short_message together with message_payload answers ESME_RINVMSGLEN
//     (sm_length must be 0 then). An sm_length past the body is
//     ESME_RINVMSGLEN; one shorter than the text leaves octets that do not
//     form optional parameters: ESME_RINVOPTPARSTREAM (in replace_sm, which
//     has none, ESME_RINVMSGLEN).
//   - Optional parameters whose size the specification fixes (message_state,
//     network_error_code, SAR fields, ports, ...) are checked:
//     ESME_RINVPARLEN otherwise. Unknown tags are kept in the raw TLVs.
//   - data_sm and alert_notification addresses may be 64 octets, as the
//     specification says; the others 20.
package pdu
