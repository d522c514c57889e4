// An app as bluegreen expects it: one ALB with a production listener (80) and
// a test listener (8080), two target groups, two Fargate services
// `<app>-blue` and `<app>-green`; plus the shared switcher and the app's
// BlueGreenApp. The local demo provisions the same shape in the emulator.

import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BlueGreenApp } from './blue-green-app';
import { acknowledge } from './nag';
import { BlueGreenSwitcher } from './switcher';

export interface ExampleStackProps extends StackProps {
  /** @default 'checkout' */
  readonly appName?: string;
  /**
   * The app's container image; it must answer GET /health on port 8080.
   * @default a public echo server that answers 200 on every path
   */
  readonly image?: string;
}

const PORT = 8080;
/** A client stays on one color during a weighted shift. */
const STICKINESS = Duration.minutes(5);

export class ExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: ExampleStackProps = {}) {
    super(scope, id, props);
    const appName = props.appName ?? 'checkout';

    // No NAT: the tasks run in public subnets with public IPs to pull images.
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 0 });
    acknowledge(
      vpc,
      'AwsSolutions-VPC7',
      'an example VPC holding only the demo ALB and tasks; flow logs (billed per GB) belong to the ' +
        'network setup of the account an app really runs in, which bluegreen does not own',
    );
    const alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', { vpc, internetFacing: true });
    acknowledge(
      alb,
      'AwsSolutions-ELB2',
      'access logs need an S3 bucket that ELB may write, the account\'s choice; the monitor judges ' +
        'releases from CloudWatch metrics and probes, not access logs',
    );
    acknowledge(
      alb,
      'AwsSolutions-EC23',
      'an internet-facing example: production (:80) is public by design; the test listener (:8080) ' +
        'admits the VPC only (the smoke-test function runs in it)',
    );

    const targetGroup = (color: string) =>
      new elbv2.ApplicationTargetGroup(this, `${color}TargetGroup`, {
        vpc,
        targetType: elbv2.TargetType.IP,
        protocol: elbv2.ApplicationProtocol.HTTP,
        port: PORT,
        healthCheck: { path: '/health', interval: Duration.seconds(10), healthyThresholdCount: 2 },
        deregistrationDelay: Duration.seconds(30),
      });
    const blueTg = targetGroup('Blue');
    const greenTg = targetGroup('Green');

    // The initial actions only: after the first deploy the switcher owns them
    // (see README: do not change these in CDK afterwards).
    const production = alb.addListener('Production', {
      port: 80,
      defaultAction: elbv2.ListenerAction.weightedForward(
        [
          { targetGroup: blueTg, weight: 100 },
          { targetGroup: greenTg, weight: 0 },
        ],
        // The same stickiness the switcher writes (the app's `production.stickiness`).
        { stickinessDuration: STICKINESS },
      ),
    });
    // Smoke tests reach the idle color here, from inside the VPC only: the
    // smoke-test function runs in the VPC's isolated subnets (see the
    // switcher's `vpcPlacement`), and nothing outside may use port 8080.
    const test = alb.addListener('Test', {
      port: PORT,
      open: false,
      defaultAction: elbv2.ListenerAction.forward([greenTg]),
    });
    test.connections.allowFrom(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(PORT), 'the test listener: the VPC only');


    // Container Insights: per-service CPU, memory and task counts of both
    // colors while a release bakes.
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: 256,
      memoryLimitMiB: 512,
    });
    taskDefinition.addContainer('app', {
      containerName: 'app',
      image: ecs.ContainerImage.fromRegistry(props.image ?? 'hashicorp/http-echo:0.2.3'),
      command: props.image ? undefined : [`-listen=:${PORT}`, '-text=bluegreen placeholder'],
      portMappings: [{ containerPort: PORT }],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: appName, logRetention: logs.RetentionDays.ONE_MONTH }),
    });
    // Blue serves first; green idles at zero until deploy-idle sizes it.
    const service = (color: 'blue' | 'green', desiredCount: number, tg: elbv2.ApplicationTargetGroup) => {
      const s = new ecs.FargateService(this, `${color}Service`, {
        cluster,
        taskDefinition,
        serviceName: `${appName}-${color}`,
        desiredCount,
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        circuitBreaker: { rollback: true },
        assignPublicIp: true,
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      });
      tg.addTarget(s);
      return s;
    };
    const blue = service('blue', 1, blueTg);
    const green = service('green', 0, greenTg);

    // Whoever may press the emergency button: here, a role that identities
    // of this account can assume.
    const onCall = new iam.Role(this, 'EmergencyRollbackRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: `may roll back bluegreen apps by publishing to the emergency topic`,
    });
    // The smoke tests run in the VPC, to reach the private test listener;
    // the monitor probes the public production listener from outside.
    const switcher = new BlueGreenSwitcher(this, 'Switcher', {
      emergencyPublishers: [onCall],
      vpcPlacement: {
        vpc,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        functions: ['smokeTest'],
      },
    });
    // What the smoke-test function calls from the isolated subnets (no NAT):
    // SSM (the app's config, `{{ssm:...}}` values) and STS (the app's role),
    // open to that function only.
    for (const [id, service] of [
      ['SsmEndpoint', ec2.InterfaceVpcEndpointAwsService.SSM],
      ['StsEndpoint', ec2.InterfaceVpcEndpointAwsService.STS],
    ] as const) {
      const endpoint = vpc.addInterfaceEndpoint(id, {
        service,
        subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        open: false,
      });
      for (const sg of switcher.functionsSecurityGroups) endpoint.connections.allowDefaultPortFrom(sg);
    }

    // The load balancer's own 5xx (502/503/504: targets crashing or not
    // answering), which the monitor's per-target-group figures do not count.
    const elb5xx = new cloudwatch.Alarm(this, 'Elb5xxAlarm', {
      alarmName: `${appName}-elb-5xx`,
      metric: alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, {
        period: Duration.minutes(1),
        statistic: 'Sum',
      }),
      threshold: 10,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // Every release: 10 %, 50 %, then all traffic, each step baked. The
    // probes expect the release version in the body or a header of
    // GET /version on the production listener, and the smoke tests first ask
    // the same path through the test listener until it names the release
    // (the placeholder image serves neither; your image must).
    new BlueGreenApp(this, 'App', {
      switcher,
      appName,
      cluster,
      blue: { service: blue, targetGroup: blueTg },
      green: { service: green, targetGroup: greenTg },
      production: { listener: production, stickiness: STICKINESS },
      test: { listener: test, url: `http://${alb.loadBalancerDnsName}:${PORT}` },
      container: 'app',
      deployTimeout: Duration.minutes(10),
      strategy: { type: 'weighted', steps: [10, 50, 100], bake: Duration.minutes(5) },
      monitor: {
        max5xxRate: 0.01,
        maxP99: Duration.seconds(1),
        minRequests: 50,
        alarmNames: [elb5xx.alarmName],
        probeUrl: `http://${alb.loadBalancerDnsName}/version`,
        probeRequests: 5,
        probeTimeout: Duration.seconds(2),
        versionTimeout: Duration.minutes(2),
        compareWithPrevious: true,
        maxP99Regression: 1.5,
        // A metric of the app's own, here orders per minute, which may fall
        // at most 20% below the 5 minutes before the switch. The placeholder
        // image publishes none, so the example leaves it out:
        // checks: [{ name: 'orders per minute', namespace: 'Shop', metric: 'Orders',
        //            dimensions: { Color: '{{color}}' }, maxDrop: 0.2 }],
      },
      warmWindow: Duration.hours(24),
      idleCapacityAfterWindow: 0,
    });
  }
}
