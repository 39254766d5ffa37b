#!/usr/bin/env python3
"""moto's AWS server (PyPI `moto[server]`), seeded for the AWS probes.

usage: aws_standin.py PORT_FILE SCENARIO      SCENARIO: faults | healthy

Seeded: an RDS instance "orders-rds", a CloudWatch alarm, two EC2 instances behind an ELBv2
target group, and a CloudWatch Logs group with events. With "faults":
  - orders-rds in status storage-full, the alarm in ALARM           (stock moto state, set directly)
  - one EC2 instance with an impaired system status check            (moto extended: always "ok")
  - that instance's target unhealthy with a failed health check       (moto extended: always "healthy")
  - error events in the log group
"""
import socket
import os
import sys
import time

import boto3
from moto.ec2.models.instances import Instance
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup
from moto.rds.models import rds_backends
from moto.server import ThreadedMotoServer

port_file, scenario = sys.argv[1], sys.argv[2]
REGION, ACCOUNT = "us-west-2", "123456789012"

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
server.start()
endpoint = f"http://127.0.0.1:{port}"
session = boto3.session.Session(aws_access_key_id="AKIATESTSEED", aws_secret_access_key="seed-secret", region_name=REGION)

rds = session.client("rds", endpoint_url=endpoint)
rds.create_db_instance(DBInstanceIdentifier="orders-rds", DBInstanceClass="db.t3.micro", Engine="postgres",
                       AllocatedStorage=20, MasterUsername="app", MasterUserPassword="seed-password-123")

cloudwatch = session.client("cloudwatch", endpoint_url=endpoint)
cloudwatch.put_metric_alarm(AlarmName="orders-rds-free-storage", Namespace="AWS/RDS", MetricName="FreeStorageSpace",
                            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "orders-rds"}], Statistic="Minimum",
                            Period=60, EvaluationPeriods=1, Threshold=1073741824, ComparisonOperator="LessThanThreshold")
cloudwatch.put_metric_alarm(AlarmName="api-5xx", Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
                            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=10, ComparisonOperator="GreaterThanThreshold")

ec2 = session.client("ec2", endpoint_url=endpoint)
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
instances = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, InstanceType="t3.micro", SubnetId=subnet)["Instances"]]

elb = session.client("elbv2", endpoint_url=endpoint)
group = elb.create_target_group(Name="api-targets", Protocol="HTTP", Port=8080, VpcId=vpc, HealthCheckPath="/healthz")["TargetGroups"][0]["TargetGroupArn"]
elb.register_targets(TargetGroupArn=group, Targets=[{"Id": i, "Port": 8080} for i in instances])

logs = session.client("logs", endpoint_url=endpoint)
logs.create_log_group(logGroupName="/app/api")
logs.create_log_stream(logGroupName="/app/api", logStreamName="api-1")
now = int(time.time() * 1000)
events = [{"timestamp": now - 60000 + i * 1000, "message": f"INFO request {i} served"} for i in range(5)]
if scenario == "faults":
    events += [{"timestamp": now - 30000 + i * 1000, "message": f"ERROR could not write: no space left on device (request {i})"} for i in range(12)]
logs.put_log_events(logGroupName="/app/api", logStreamName="api-1", logEvents=sorted(events, key=lambda e: e["timestamp"]))

if scenario == "faults":
    rds_backends[ACCOUNT][REGION].databases["orders-rds"].status = "storage-full"
    cloudwatch.set_alarm_state(AlarmName="orders-rds-free-storage", StateValue="ALARM",
                               StateReason="Threshold Crossed: 1 datapoint [104857600.0] was less than the threshold (1073741824.0).")
    impaired = {instances[0]}
    original_system_status = Instance.system_status

    def system_status(self):
        if self.id in impaired and self.state_code == 16:
            return {"Details": [{"Name": "reachability", "Status": "failed"}], "Status": "impaired"}
        return original_system_status.fget(self)

    Instance.system_status = property(system_status)
    original_health = FakeTargetGroup.health_for

    def health_for(self, target, ec2_backend):
        if target["Id"] in impaired:
            return FakeHealthStatus(target["Id"], target.get("Port", self.port), self.health_check_port, "unhealthy",
                                    "Target.FailedHealthChecks", "Health checks failed with these codes: [502]")
        return original_health(self, target, ec2_backend)

    FakeTargetGroup.health_for = health_for

# Written atomically: readers poll for the file and must never see it empty.
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(port))
os.replace(port_file + ".tmp", port_file)
while True:
    time.sleep(3600)
