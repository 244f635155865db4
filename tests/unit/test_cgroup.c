// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sense/cgroup.h"

#define ID "3f1b5a0e9c2d4b6a8e7f1c3d5b7a9e0f2c4d6b8a0e1f3c5d7b9a1e3f5c7d9b1a"

static void expect(const char *path, const char *id, const char *runtime)
{
	struct container_info ci;

	assert_int_equal(cgroup_parse_path(path, &ci), id ? 1 : 0);
	if (id) {
		assert_string_equal(ci.id, id);
		if (runtime)
			assert_string_equal(ci.runtime, runtime);
	}
}

static void test_cgroup_docker_systemd_and_cgroupfs(void **state)
{
	expect("/system.slice/docker-" ID ".scope", ID, "docker");
	expect("/docker/" ID, ID, "docker");
}

static void test_cgroup_containerd_crio_podman(void **state)
{
	expect("/kubepods.slice/kubepods-burstable.slice/"
	       "kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-" ID
	       ".scope",
	       ID, "containerd");
	expect("/kubepods.slice/kubepods-pod1a2b.slice/crio-" ID ".scope", ID, "cri-o");
	expect("/machine.slice/libpod-" ID ".scope/container", ID, "podman");
	expect("/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" ID, ID,
	       "containerd");
}

static void test_cgroup_pod_uid(void **state)
{
	struct container_info ci;

	cgroup_parse_path(
	    "/kubepods.slice/kubepods-burstable.slice/"
	    "kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-" ID
	    ".scope",
	    &ci);
	assert_string_equal(ci.pod_uid, "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d");
}

static void test_cgroup_not_a_container(void **state)
{
	expect("/user.slice/user-1000.slice/session-3.scope", NULL, NULL);
	expect("/system.slice/vigild.service", NULL, NULL);
	expect("/", NULL, NULL);
	expect("", NULL, NULL);
	expect("/kubepods.slice/crio-conmon-" ID ".scope", NULL, NULL);
	expect("/docker/"
	       "3F1B5A0E9C2D4B6A8E7F1C3D5B7A9E0F2C4D6B8A0E1F3C5D7B9A1E3F5C7D9B1A",
	       NULL, NULL);
}

static void test_cgroup_parse_proc_hybrid(void **state)
{
	const char *text = "12:memory:/docker/" ID "\n"
			   "1:name=systemd:/docker/" ID "\n"
			   "0::/system.slice/containerd.service\n";
	struct container_info ci;
	char v2[256];

	assert_int_equal(cgroup_parse_proc(text, &ci, v2, sizeof(v2)), 1);
	assert_string_equal(ci.id, ID);
	assert_string_equal(v2, "/system.slice/containerd.service");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cgroup_docker_systemd_and_cgroupfs),
	    cmocka_unit_test(test_cgroup_containerd_crio_podman),
	    cmocka_unit_test(test_cgroup_pod_uid),
	    cmocka_unit_test(test_cgroup_not_a_container),
	    cmocka_unit_test(test_cgroup_parse_proc_hybrid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
