/* SPDX-License-Identifier: GPL-2.0 */
/*
 * natslib.h — libnats (the NATS C client, package libnats3.4), loaded with
 * dlopen on demand, and the table of its functions vigil calls.
 *
 * Owns: loading libnats.so.3.4 the first time a fleet feature needs it (a
 * host without output.nats never maps it, as webhook.c does for libcurl),
 * resolving every function below or failing with one line that names the
 * missing library or symbol, and the text of a natsStatus. The library stays
 * loaded for the life of the process: libnats runs its own threads and timers,
 * so it is never dlclose'd.
 *
 * Each member has the name and the exact type of the libnats function it
 * points at (taken from <nats/nats.h> with __typeof__, so a prototype here
 * cannot drift from the library's): call nl->js_PublishAsync(...) as you
 * would call js_PublishAsync(...). To use another function, add it to
 * NATSLIB_FUNCS: nothing else changes. libnats 3.4 has no natsMsg_Respond:
 * answer a request with natsConnection_Publish(nc, natsMsg_GetReply(m), ...).
 *
 * Stage ship/: includes core/ and any stage below daemon/; does not own the
 * loop, the socket or any connection (callers hold their own).
 */
#ifndef VIGIL_NATSLIB_H
#define VIGIL_NATSLIB_H

#include <nats/nats.h>
#include <stddef.h>

#define NATSLIB_SONAME "libnats.so.3.4"

/* clang-format off */
#define NATSLIB_FUNCS(X)                                                          \
	/* library, status text */                                                \
	X(nats_Open) X(natsStatus_GetText) X(nats_GetLastError)                   \
	/* options: servers, reconnects, TLS, credentials, callbacks */           \
	X(natsOptions_Create) X(natsOptions_Destroy) X(natsOptions_SetServers)    \
	X(natsOptions_SetName) X(natsOptions_SetTimeout)                          \
	X(natsOptions_SetMaxReconnect) X(natsOptions_SetReconnectWait)            \
	X(natsOptions_SetReconnectJitter) X(natsOptions_SetReconnectBufSize)      \
	X(natsOptions_SetCustomReconnectDelay)                                    \
	X(natsOptions_SetRetryOnFailedConnect) X(natsOptions_SetSecure)           \
	X(natsOptions_LoadCATrustedCertificates)                                  \
	X(natsOptions_LoadCertificatesChain)                                      \
	X(natsOptions_SetUserCredentialsFromFiles)                                \
	X(natsOptions_SetDisconnectedCB) X(natsOptions_SetReconnectedCB)          \
	X(natsOptions_SetClosedCB) X(natsOptions_SetErrorHandler)                 \
	/* connection, core publish/subscribe, request/reply */                   \
	X(natsConnection_Connect) X(natsConnection_Close)                         \
	X(natsConnection_Destroy) X(natsConnection_Status)                        \
	X(natsConnection_IsClosed) X(natsConnection_Flush)                        \
	X(natsConnection_FlushTimeout) X(natsConnection_GetConnectedUrl)          \
	X(natsConnection_Publish) X(natsConnection_PublishMsg)                    \
	X(natsConnection_Subscribe) X(natsConnection_SubscribeSync)               \
	X(natsConnection_Request) X(natsConnection_RequestMsg)                    \
	X(natsConnection_PublishRequest) X(natsInbox_Create) X(natsInbox_Destroy)  \
	X(natsSubscription_Unsubscribe) X(natsSubscription_Destroy)               \
	X(natsSubscription_NextMsg)                                               \
	/* messages */                                                            \
	X(natsMsg_Create) X(natsMsg_Destroy) X(natsMsg_GetSubject)                \
	X(natsMsg_GetReply) X(natsMsg_GetData) X(natsMsg_GetDataLength)           \
	X(natsMsgHeader_Set) X(natsMsgHeader_Get) X(natsMsg_IsNoResponders)     \
	X(natsMsgList_Destroy)                                                    \
	/* JetStream: context, streams, publish with acks */                      \
	X(jsOptions_Init) X(natsConnection_JetStream) X(jsCtx_Destroy)            \
	X(jsStreamConfig_Init) X(js_AddStream) X(js_UpdateStream)                 \
	X(js_GetStreamInfo) X(jsStreamInfo_Destroy) X(js_GetMsg)                  \
	X(js_GetLastMsg) X(jsPubOptions_Init) X(js_Publish) X(js_PublishMsg)      \
	X(jsPubAck_Destroy) X(js_PublishAsync) X(js_PublishMsgAsync)              \
	X(js_PublishAsyncComplete) X(js_PublishAsyncGetPendingList)               \
	/* JetStream consumers: pull/durable, acks, metadata */                   \
	X(jsConsumerConfig_Init) X(jsSubOptions_Init) X(js_AddConsumer)           \
	X(js_GetConsumerInfo) X(jsConsumerInfo_Destroy) X(js_DeleteConsumer)      \
	X(js_Subscribe) X(js_SubscribeSync) X(js_PullSubscribe)                   \
	X(natsSubscription_Fetch) X(natsSubscription_FetchRequest)                \
	X(jsFetchRequest_Init) X(natsMsg_Ack) X(natsMsg_AckSync) X(natsMsg_Nak)   \
	X(natsMsg_InProgress) X(natsMsg_Term) X(natsMsg_GetMetaData)              \
	X(jsMsgMetaData_Destroy) X(natsMsg_GetSequence) X(natsMsg_GetTime)        \
	/* key-value buckets (leases) */                                          \
	X(kvConfig_Init) X(js_CreateKeyValue) X(js_KeyValue) X(kvStore_Destroy)   \
	X(kvStore_Create) X(kvStore_Update) X(kvStore_Put) X(kvStore_Get)         \
	X(kvStore_Delete) X(kvStore_Purge) X(kvEntry_Value) X(kvEntry_ValueLen)   \
	X(kvEntry_Revision) X(kvEntry_Created) X(kvEntry_Operation)               \
	X(kvEntry_Destroy)
/* clang-format on */

struct natslib {
	void *so; /* NULL until natslib_load succeeded */
#define NATSLIB_MEMBER(f) __typeof__(f) *f;
	NATSLIB_FUNCS(NATSLIB_MEMBER)
#undef NATSLIB_MEMBER
};

/*
 * Load libnats into *nl (a no-op when nl->so is set). -ENOENT with err saying
 * "cannot load libnats.so.3.4 (package libnats3.4): ..." when the library or
 * one of its functions is missing; -EIO when nats_Open fails. Not thread-safe:
 * call it before starting threads that use nl.
 */
int natslib_load(struct natslib *nl, char *err, size_t errlen);

/*
 * One line for a failed call: the status text and, where libnats recorded
 * one, its last error ("TLS handshake failed: ..."). Returns buf.
 */
const char *natslib_error(const struct natslib *nl, natsStatus s, char *buf, size_t len);

#endif
